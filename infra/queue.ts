import {
  backstopReceivesAboveConsumer,
  consumerLeaseSeconds,
  consumerRequestsPerSecond,
  queueVisibilityTimeoutSeconds,
} from "@stripe-webhooks/core/limits";
import { settings } from "./preflight";
import { stripeApiKey } from "./stripe";
import { ledger } from "./table";

/*
 * Queued processing (README, "Processing modes"): the webhook and the reconciler send verified
 * events to an SQS FIFO queue, and a consumer runs the handlers at a pace Stripe's API can bear.
 * An inline stage creates none of this, and every export is undefined.
 */

// SQS charges per request, not for how long a message waits, so both queues keep messages as
// long as SQS allows. A FIFO message keeps its first enqueue time in the dead-letter queue, so
// a shorter retention there would cut the time an operator has to redrive it.
const retentionSeconds = 14 * 24 * 60 * 60;

function createQueuedProcessing() {
  const { consumerTimeoutSeconds, maxConcurrency, maxReceives, stripeRequestsPerSecond } = settings.queue;

  const deadLetterQueue = new sst.aws.Queue("WebhookDeadLetterQueue", {
    fifo: { contentBasedDeduplication: false },
    transform: { queue: { messageRetentionSeconds: retentionSeconds } },
  });

  const queue = new sst.aws.Queue("WebhookQueue", {
    // The deduplication id is the event id, set by the sender: two deliveries of one event are
    // one message, while a body-based id would differ between Stripe's retries.
    fifo: { contentBasedDeduplication: false },
    visibilityTimeout: `${queueVisibilityTimeoutSeconds(consumerTimeoutSeconds)} seconds`,
    dlq: { queue: deadLetterQueue.arn, retry: maxReceives + backstopReceivesAboveConsumer },
    transform: { queue: { messageRetentionSeconds: retentionSeconds } },
  });

  /**
   * What the webhook and the reconciler link instead of the queue: its URL, and SendMessage on it
   * only. Linking the queue itself would grant sqs:* on it.
   */
  const send = new sst.Linkable("WebhookQueueSend", {
    properties: { url: queue.url },
    include: [sst.aws.permission({ actions: ["sqs:SendMessage"], resources: [queue.arn] })],
  });

  /**
   * What the consumer links beside its event source mapping's own permissions: the dead-letter
   * queue's URL (`url`) with SendMessage on it, since the consumer dead-letters an event itself
   * after `maxReceives` failures, and the queue's URL (`queueUrl`) with ChangeMessageVisibility,
   * to defer a rate-limited record with a growing delay.
   */
  const consumerAccess = new sst.Linkable("QueueConsumerAccess", {
    properties: { url: deadLetterQueue.url, queueUrl: queue.url },
    include: [
      sst.aws.permission({ actions: ["sqs:SendMessage"], resources: [deadLetterQueue.arn] }),
      sst.aws.permission({ actions: ["sqs:ChangeMessageVisibility"], resources: [queue.arn] }),
    ],
  });

  // SST grants the subscriber what the event source mapping needs on the queue (ReceiveMessage,
  // DeleteMessage, GetQueueAttributes, and ChangeMessageVisibility and GetQueueUrl besides).
  const consumer = queue.subscribe(
    {
      handler: "packages/functions/src/queue-consumer.handler",
      runtime: "nodejs24.x",
      architecture: "arm64",
      memory: "512 MB",
      timeout: `${consumerTimeoutSeconds} seconds`,
      link: [ledger, stripeApiKey, consumerAccess],
      environment: {
        STRIPE_MODE: settings.mode,
        QUEUE_MAX_RECEIVES: String(maxReceives),
        LEASE_SECONDS: String(consumerLeaseSeconds(consumerTimeoutSeconds)),
        // Each instance's share of the stage's budget: at most maxConcurrency run at once.
        STRIPE_REQUESTS_PER_SECOND: String(consumerRequestsPerSecond(stripeRequestsPerSecond, maxConcurrency)),
      },
      logging: { retention: settings.logRetention, format: "json" },
    },
    {
      // A FIFO event source takes at most 10 records a batch. Partial responses let the consumer
      // return only the failed records (and those held back behind them in their group).
      batch: { size: 10, partialResponses: true },
      transform: {
        eventSourceMapping: (args) => {
          args.scalingConfig = { maximumConcurrency: maxConcurrency };
          // Lambda refuses a batching window on a FIFO queue; SST would state 0.
          delete args.maximumBatchingWindowInSeconds;
        },
      },
    },
  );

  return { queue, deadLetterQueue, send, consumerAccess, consumer };
}

const queued = settings.processing === "queued" ? createQueuedProcessing() : undefined;

/** The queue the webhook and the reconciler send events to; undefined for an inline stage. */
export const queue = queued?.queue;

/** Where the consumer moves an event whose handler keeps failing; undefined for an inline stage. */
export const deadLetterQueue = queued?.deadLetterQueue;

/** The link that lets a function send to the queue and nothing else; undefined for an inline stage. */
export const queueSend = queued?.send;

/** The queue's consumer (an SST subscriber); undefined for an inline stage. */
export const queueConsumer = queued?.consumer;
