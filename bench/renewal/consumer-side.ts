import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { AppSettings } from "@stripe-webhooks/core/app";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { consumerLeaseSeconds } from "@stripe-webhooks/core/limits";
import { testAwsEnvironment } from "@stripe-webhooks/testing/engines";
import { createQueueConsumerHandler, type QueueConsumerHandler } from "../../packages/functions/src/queue-consumer-handler.ts";
import { lambdaContext } from "../../packages/scripts/src/lambda-context.ts";
import { serve } from "../shared/ipc.ts";
import { countDynamo, newTallies } from "./counting.ts";
import { processedRecorder } from "./processed.ts";
import type { ControlCalls } from "./sqs-side.ts";

/*
 * The queue consumer's Lambda instances in the renewal burst: a pool of `maxConcurrency`
 * instances of the deployed adapter (createQueueConsumerHandler), each with its own clients and
 * so its own pace of Stripe requests, each running one batch at a time as Lambda runs them. The
 * SQS side (sqs-side.ts), which plays SQS and Lambda's pollers, invokes them; their queue
 * control (visibility changes, dead-letter copies) goes back to it.
 */

export interface ConsumerSideOptions {
  dynamoEndpoint: string;
  transactions: boolean;
  settings: AppSettings;
  maxConcurrency: number;
  /** Each instance's pace of Stripe requests, as infra sets it; unset, unpaced. */
  consumerRequestsPerSecond?: number;
  consumerTimeoutSeconds: number;
  maxReceives: number;
}

const sqs = serve<ControlCalls>({ start, invoke, report });
const tallies = newTallies();
const processed = processedRecorder();
const clients: DynamoDBClient[] = [];
const idle: QueueConsumerHandler[] = [];
let consumerMs = 0;
let consumerInvocations = 0;

async function start(options: ConsumerSideOptions): Promise<void> {
  const leaseSeconds = consumerLeaseSeconds(options.consumerTimeoutSeconds);
  const control = {
    changeVisibility: async (record: SQSRecord, seconds: number) => void (await sqs("changeVisibility", { record, seconds })),
    deadLetter: async (record: SQSRecord) => void (await sqs("deadLetter", { record })),
  };
  for (let index = 0; index < options.maxConcurrency; index += 1) {
    // Configured as the deployed functions configure theirs.
    const dynamo = new DynamoDBClient({
      endpoint: options.dynamoEndpoint,
      region: testAwsEnvironment.AWS_REGION,
      credentials: { accessKeyId: testAwsEnvironment.AWS_ACCESS_KEY_ID, secretAccessKey: testAwsEnvironment.AWS_SECRET_ACCESS_KEY },
      cacheMiddleware: true,
    });
    countDynamo(dynamo, tallies);
    clients.push(dynamo);
    idle.push(
      createQueueConsumerHandler({
        dynamo,
        // As the deployed consumer: it processes what it is given, it never enqueues.
        settings: () => ({
          ...options.settings,
          processing: undefined,
          ...(options.consumerRequestsPerSecond === undefined ? {} : { stripeRequestsPerSecond: String(options.consumerRequestsPerSecond) }),
        }),
        registry: entitlementHandlers,
        logger: processed.logger,
        ledger: { transactions: options.transactions, leaseSeconds },
        control,
        consumer: () => ({ maxReceives: options.maxReceives, leaseSeconds }),
      }),
    );
  }
}

/** One batch on an idle instance; answers with the batch response and how many events are processed so far. */
async function invoke(input: { event: SQSEvent; requestId: string }): Promise<{ response: SQSBatchResponse; processed: number }> {
  const consumer = idle.pop();
  if (!consumer) throw new Error("Lambda's pollers ran more batches at once than maxConcurrency.");
  const started = performance.now();
  try {
    const response = await consumer(input.event, lambdaContext(input.requestId, testAwsEnvironment.AWS_REGION));
    return { response, processed: processed.count() };
  } finally {
    consumerMs += performance.now() - started;
    consumerInvocations += 1;
    idle.push(consumer);
  }
}

async function report() {
  for (const client of clients) client.destroy();
  return { processed: processed.record(), dynamo: tallies.dynamo.consumer, consumerMs, consumerInvocations };
}

export type ConsumerSide = { start: typeof start; invoke: typeof invoke; report: typeof report };
