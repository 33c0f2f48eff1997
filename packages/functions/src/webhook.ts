import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { Resource } from "sst/resource";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { sqsQueueSender } from "./sqs.ts";
import { createWebhookHandler } from "./webhook-handler.ts";

/**
 * The deployed Stripe webhook endpoint. The client is created once per container so warm
 * invocations reuse its connections, with default config otherwise (the standard
 * AWS_ENDPOINT_URL_DYNAMODB points it elsewhere); its middleware never changes after start, so
 * the SDK need not rebuild the stack on every send. The links are read on the first request.
 */
export const handler = createWebhookHandler({
  dynamo: new DynamoDBClient({ cacheMiddleware: true }),
  settings: () => ({
    webhookSecret: Resource.StripeWebhookSecret.value,
    tableName: Resource.Ledger.name,
    mode: process.env.STRIPE_MODE,
    toleranceSeconds: process.env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    // Read here, used only when a handler first calls Stripe.
    stripeApiKey: Resource.StripeApiKey.value,
    stripeApiBase: process.env.STRIPE_API_BASE,
    processing: process.env.PROCESSING_MODE,
  }),
  // Used only in a queued stage, whose webhook links the queue's URL with SendMessage on it.
  queue: sqsQueueSender(() => Resource.WebhookQueueSend.url),
  registry: entitlementHandlers,
  logger: createLogger(),
  metrics: createMetrics(Resource.App.stage),
});
