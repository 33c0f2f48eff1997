import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { HandlerRegistry } from "@stripe-webhooks/core/dispatch";
import { createLogger } from "@stripe-webhooks/functions/logger";
import { createMetrics } from "@stripe-webhooks/functions/metrics";
import { sqsQueueSender } from "@stripe-webhooks/functions/sqs";
import { createWebhookHandler } from "@stripe-webhooks/functions/webhook-handler";
import { benchLinks } from "./links.ts";

/*
 * The deployed entry's factory call (packages/functions/src/webhook.ts) with the bench's links:
 * the same dependencies, only the settings come from plain variables instead of `sst/resource`.
 * ours.ts passes the deployed registry; ours-effect.ts a registry whose handler stages a write.
 * bench/bundle checks that ours.ts bundles exactly the deployed modules plus sst's reader, so a
 * dependency added there and not here fails the bench; a setting added there has to be added
 * here by hand.
 */
export function oursHandler(registry: HandlerRegistry): ReturnType<typeof createWebhookHandler> {
  return createWebhookHandler({
    dynamo: new DynamoDBClient({ cacheMiddleware: true }),
    settings: () => ({
      webhookSecret: benchLinks().webhookSecret,
      tableName: benchLinks().tableName,
      mode: process.env.STRIPE_MODE,
      toleranceSeconds: process.env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      stripeApiKey: benchLinks().stripeApiKey,
      stripeApiBase: process.env.STRIPE_API_BASE,
      processing: process.env.PROCESSING_MODE,
    }),
    // As deployed; the bench sets no PROCESSING_MODE, so its stages are inline and never send.
    queue: sqsQueueSender(() => process.env.BENCH_QUEUE_URL ?? ""),
    registry,
    logger: createLogger(),
    metrics: createMetrics(benchLinks().stage ?? ""),
  });
}
