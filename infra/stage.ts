/**
 * Every per-stage decision in one typed place. `production` is the live stage; every other
 * stage (personal dev stages, staging, PR previews) is a lean test-mode copy.
 */
export interface StageSettings {
  /** Which Stripe mode the stage's handler accepts; events from the other mode are refused. */
  mode: "test" | "live";
  /** Custom domain for the router. Needs a Route 53 hosted zone for it in the account. */
  domain?: string;
  /**
   * Per-IP request limit per 5 minutes at the router's WAF. Stripe delivers from a small,
   * fixed set of IPs, so the limit must stay far above a real burst from one of them.
   */
  wafRateLimitPerIp?: number;
  /** DynamoDB point-in-time recovery for the ledger. */
  pointInTimeRecovery: boolean;
  /** Reserved concurrency for the handler; undefined shares the account's pool. */
  reservedConcurrency?: number;
  /** CloudWatch retention of the handler's logs. */
  logRetention: "1 week" | "1 month" | "3 months" | "1 year";
}

const production: StageSettings = {
  mode: "live",
  // Optional: export STRIPE_WEBHOOKS_DOMAIN=webhooks.example.com before deploying.
  domain: process.env.STRIPE_WEBHOOKS_DOMAIN || undefined,
  wafRateLimitPerIp: 20_000,
  pointInTimeRecovery: true,
  // Caps the blast radius of a flood that gets past the WAF while leaving ample headroom:
  // each delivery takes tens of milliseconds, so 50 concurrent is over 1,000 events/s.
  reservedConcurrency: 50,
  logRetention: "3 months",
};

const development: StageSettings = {
  mode: "test",
  pointInTimeRecovery: false,
  logRetention: "1 week",
};

/** The settings for a stage name. */
export function stageSettings(stage: string): StageSettings {
  return stage === "production" ? production : development;
}

export const settings = stageSettings($app.stage);

// A live stage deployed with a test key (or the reverse) would create an endpoint in the
// wrong Stripe mode; the handler would then refuse every event. Fail the deploy instead.
const apiKey = process.env.STRIPE_API_KEY;
if (apiKey && /^(sk|rk)_(live|test)_/.test(apiKey) && !apiKey.includes(`_${settings.mode}_`)) {
  throw new Error(
    `Stage "${$app.stage}" runs in Stripe ${settings.mode} mode, but STRIPE_API_KEY is a ` +
      `${settings.mode === "live" ? "test" : "live"}-mode key. Use a ${settings.mode}-mode key for this stage.`,
  );
}
