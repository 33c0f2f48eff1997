import { settings } from "./stage";

/**
 * The stage's public front door. Stripe posts to the router's URL, not to the function URL:
 * the router exists before the function, so the Stripe endpoint (whose secret the function
 * links) can be created first. See README, "Why a router".
 */
export const router = new sst.aws.Router("WebhookRouter", {
  ...(settings.domain ? { domain: settings.domain } : {}),
  ...(settings.wafRateLimitPerIp
    ? {
        waf: {
          rateLimitPerIp: settings.wafRateLimitPerIp,
          // Managed rule groups inspect bodies and can block legitimate Stripe JSON (they
          // match SQL-looking or script-looking text in customer-supplied fields such as
          // descriptions and metadata). The signature check is the real gate.
          managedRules: { coreRuleSet: false, knownBadInputs: false, sqlInjection: false },
        },
      }
    : {}),
});
