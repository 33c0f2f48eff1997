import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { AppSettings } from "@stripe-webhooks/core/app";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { leaseSeconds as defaultLeaseSeconds } from "@stripe-webhooks/core/limits";
import { Resource } from "sst/resource";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { createQueueConsumerHandler } from "./queue-consumer-handler.ts";
import { sqsQueueControl } from "./sqs.ts";

// Set by infra beside the links (infra/queue.ts). The lease covers the consumer's timeout, not the
// webhook's; unset, both fall back to the ledger's default lease.
const leaseSeconds = Number(process.env.LEASE_SECONDS) || undefined;
const maxReceives = Number(process.env.QUEUE_MAX_RECEIVES) || 5;

/** The stage's links, and this instance's share of the consumers' Stripe budget; read on the first batch. */
function linkedSettings(): AppSettings {
  return {
    tableName: Resource.Ledger.name,
    mode: process.env.STRIPE_MODE,
    stripeApiKey: Resource.StripeApiKey.value,
    stripeApiBase: process.env.STRIPE_API_BASE,
    stripeRequestsPerSecond: process.env.STRIPE_REQUESTS_PER_SECOND,
  };
}

/**
 * The deployed queue consumer (subscribed to the stage's SQS FIFO queue): runs each queued event
 * through core's processEvent and answers with a partial batch response. Clients are created once
 * per container.
 */
export const handler = createQueueConsumerHandler({
  dynamo: new DynamoDBClient({ cacheMiddleware: true }),
  settings: linkedSettings,
  ledger: { leaseSeconds },
  consumer: () => ({ maxReceives, leaseSeconds: leaseSeconds ?? defaultLeaseSeconds }),
  control: sqsQueueControl(new SQSClient({}), () => ({
    queueUrl: Resource.QueueConsumerAccess.queueUrl,
    deadLetterUrl: Resource.QueueConsumerAccess.url,
  })),
  registry: entitlementHandlers,
  logger: createLogger(),
  metrics: createMetrics(Resource.App.stage),
});
