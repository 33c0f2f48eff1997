import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { Resource } from "sst/resource";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { createQueueConsumerHandler } from "./queue-consumer-handler.ts";
import { sqsQueueControl } from "./sqs.ts";

/**
 * The deployed queue consumer (subscribed to the stage's SQS FIFO queue): runs each queued event
 * through core's processEvent and answers with a partial batch response. Clients are created once
 * per container; the links are read on the first batch.
 */
export const handler = createQueueConsumerHandler({
  dynamo: new DynamoDBClient({ cacheMiddleware: true }),
  settings: () => ({
    tableName: Resource.Ledger.name,
    mode: process.env.STRIPE_MODE,
    stripeApiKey: Resource.StripeApiKey.value,
    stripeApiBase: process.env.STRIPE_API_BASE,
    stripeRequestsPerSecond: process.env.STRIPE_REQUESTS_PER_SECOND,
  }),
  // The lease covers the consumer's timeout, not the webhook's (infra derives both).
  ledger: { leaseSeconds: Number(process.env.LEASE_SECONDS) || undefined },
  consumer: () => ({
    maxReceives: Number(process.env.QUEUE_MAX_RECEIVES) || 5,
    leaseSeconds: Number(process.env.LEASE_SECONDS) || 60,
  }),
  control: sqsQueueControl(new SQSClient({}), () => ({
    queueUrl: Resource.QueueConsumerAccess.queueUrl,
    deadLetterUrl: Resource.QueueConsumerAccess.url,
  })),
  registry: entitlementHandlers,
  logger: createLogger(),
  metrics: createMetrics(Resource.App.stage),
});
