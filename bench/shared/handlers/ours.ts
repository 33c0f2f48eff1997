import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { exampleHandlers } from "@stripe-webhooks/core/handlers";
import { createLogger } from "@stripe-webhooks/functions/logger";
import { createMetrics } from "@stripe-webhooks/functions/metrics";
import { createWebhookHandler } from "@stripe-webhooks/functions/webhook-handler";
import { benchLinks } from "./links.ts";

/*
 * "ours": the deployed entry (packages/functions/src/webhook.ts) with the bench's links. The
 * same factory call with the same dependencies; only the settings come from plain variables
 * instead of `sst/resource`. bench/bundle checks that the deployed entry bundles exactly these
 * modules plus sst's reader, so a dependency added there and not here fails the bench; a
 * setting added there has to be added here by hand.
 */

export const handler = createWebhookHandler({
  dynamo: new DynamoDBClient({ cacheMiddleware: true }),
  settings: () => ({
    webhookSecret: benchLinks().webhookSecret,
    tableName: benchLinks().tableName,
    mode: process.env.STRIPE_MODE,
    toleranceSeconds: process.env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    stripeApiKey: benchLinks().stripeApiKey,
    stripeApiBase: process.env.STRIPE_API_BASE,
  }),
  registry: exampleHandlers,
  logger: createLogger(),
  metrics: createMetrics(benchLinks().stage ?? ""),
});
