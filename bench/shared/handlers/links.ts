/*
 * The links SST gives the deployed function (the signing secret, the ledger table's name, the
 * app's stage, the handlers' Stripe API key), as the bench gives them to every variant: plain
 * environment variables. The deployed entry reads them through `sst/resource`; the bench calls
 * the same factory with these instead, so it never imitates SST's environment (whose link types
 * it would have to keep in step with infra/). The bench sets no Stripe API key but in
 * bench/effects: Stripe's API cannot be reached from here, so a handler that would fetch from it
 * reports that it did not; bench/effects gives a key and points the client at the Stripe API double.
 */

export const linkVariables = {
  webhookSecret: "BENCH_WEBHOOK_SECRET",
  tableName: "BENCH_TABLE",
  stage: "BENCH_STAGE",
  stripeApiKey: "BENCH_STRIPE_API_KEY",
} as const;

export interface BenchLinks {
  webhookSecret: string | undefined;
  tableName: string | undefined;
  stage: string | undefined;
  stripeApiKey: string | undefined;
}

/** The links as the process environment holds them when called (a handler's module scope). */
export function benchLinks(): BenchLinks {
  return {
    webhookSecret: process.env[linkVariables.webhookSecret],
    tableName: process.env[linkVariables.tableName],
    stage: process.env[linkVariables.stage],
    stripeApiKey: process.env[linkVariables.stripeApiKey],
  };
}
