import { settings, stripeWebhookIps } from "./preflight";

/**
 * The stage's public front door. Stripe posts to the router's URL, not to the function URL:
 * the router exists before the function, so the Stripe endpoint (whose secret the function
 * links) can be created first. See README, "Why a router".
 */

/**
 * Where the router sends a request no route matches, such as a delivery on a stage's first
 * deploy, after Stripe's endpoint exists and before the function's route does. SST's default is
 * a placeholder host whose answer nobody here controls: a 2xx from it would tell Stripe an event
 * was delivered that no handler saw. A name under the reserved `.invalid` top-level domain never
 * resolves, so CloudFront answers 502 and Stripe retries the delivery.
 */
export const unroutedOrigin = "unrouted.invalid";

// WAF resources for CloudFront live in us-east-1 whatever the stage's region.
const stripeIpSet = settings.waf?.stripeIpAllowlist
  ? new aws.wafv2.IpSet("StripeWebhookIps", {
      scope: "CLOUDFRONT",
      region: "us-east-1",
      ipAddressVersion: "IPV4",
      addresses: stripeWebhookIps.map((ip) => `${ip}/32`),
      description: "Stripe's webhook source IPs (infra/stripe-webhook-ips.json)",
    })
  : undefined;

export const router = new sst.aws.Router("WebhookRouter", {
  ...(settings.domain ? { domain: settings.domain } : {}),
  // Stated even where it is SST's default, so that a change of default in SST cannot change who
  // may call the function URL.
  protection: settings.protection,
  ...(settings.waf
    ? {
        waf: {
          rateLimitPerIp: settings.waf.rateLimitPerIp,
          // Managed rule groups inspect bodies and can block legitimate Stripe JSON (they
          // match SQL-looking or script-looking text in customer-supplied fields such as
          // descriptions and metadata). The signature check is the real gate.
          managedRules: { coreRuleSet: false, knownBadInputs: false, sqlInjection: false },
        },
      }
    : {}),
  transform: {
    cdn: (args) => {
      args.origins = $output(args.origins).apply((origins) => {
        if (!origins.some((origin) => origin.originId === "default")) {
          // The Router's internals changed (an SST upgrade): unrouted requests would reach
          // whatever SST now uses. Stop rather than guess.
          throw new Error('sst.aws.Router has no "default" origin any more; update unroutedOrigin in infra/router.ts.');
        }
        return origins.map((origin) => (origin.originId === "default" ? { ...origin, domainName: unroutedOrigin } : origin));
      });
    },
    ...(stripeIpSet
      ? {
          waf: (args) => {
            args.rules = $output(args.rules).apply((rules) => {
              const existing = rules ?? [];
              return stripeIpSet.arn.apply((ipSetArn) => [
                ...existing,
                {
                  name: "StripeWebhookIpsOnly",
                  priority: Math.max(-1, ...existing.map((rule) => rule.priority)) + 1,
                  action: { block: {} },
                  statement: { notStatement: { statements: [{ ipSetReferenceStatement: { arn: ipSetArn } }] } },
                  visibilityConfig: {
                    cloudwatchMetricsEnabled: true,
                    metricName: "WebhookRouterStripeWebhookIpsOnly",
                    sampledRequestsEnabled: true,
                  },
                },
              ]);
            });
          },
        }
      : {}),
  },
});
