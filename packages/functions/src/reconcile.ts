import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { Resource } from "sst/resource";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { createReconcileHandler } from "./reconcile-handler.ts";
import { sqsQueueSender } from "./sqs.ts";

/**
 * The deployed reconciler (an `sst.aws.Cron`): each scheduled invocation runs one reconciliation
 * of this stage's events against its ledger. The links are read on the first run.
 */
export const handler = createReconcileHandler({
  dynamo: new DynamoDBClient({ cacheMiddleware: true }),
  settings: () => ({
    apiKey: Resource.StripeApiKey.value,
    apiBase: process.env.STRIPE_API_BASE,
    endpointId: Resource.StripeEndpoint.id || undefined,
    drainingEndpointId: Resource.StripeEndpoint.drainingId || undefined,
    tableName: Resource.Ledger.name,
    mode: process.env.STRIPE_MODE,
    processing: process.env.PROCESSING_MODE,
  }),
  queue: sqsQueueSender(() => Resource.WebhookQueueSend.url),
  registry: entitlementHandlers,
  logger: createLogger(),
  metrics: createMetrics(Resource.App.stage),
});
