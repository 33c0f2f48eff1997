import { processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { createWebhookApp, type AppDependencies } from "@stripe-webhooks/core/app";
import { errorSummary } from "@stripe-webhooks/core/errors";
import { metricNames } from "@stripe-webhooks/core/metrics";
import { consumeQueueRecord, deferSkippedRecord, type ConsumerSettings } from "@stripe-webhooks/core/queue-consumer";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { observeInto } from "./metrics.ts";

/*
 * The queue consumer's Lambda adapter: SQS FIFO batches in, partial batch responses out, through
 * Powertools' FIFO processor so a record that fails holds back the rest of its group (its
 * customer) and no other. What happens to each record is core's decision (queue-consumer.ts);
 * this adapter carries it out with the two SQS calls a decision can need. The local receiver
 * drives this same handler from its SQS stand-in.
 */

/** The SQS calls a decision needs besides the event source mapping's own receive and delete. */
export interface QueueControl {
  /** Makes an in-flight record visible again after `seconds` (SQS ChangeMessageVisibility). */
  changeVisibility(record: SQSRecord, seconds: number): Promise<void>;
  /** Sends a copy of the record to the dead-letter queue (same body, group and deduplication id). */
  deadLetter(record: SQSRecord): Promise<void>;
}

/**
 * The message a dead-lettered record becomes in the dead-letter queue: its body, group and
 * deduplication id (the event id), so a second copy of the same record (a consumer that crashed
 * after the send) falls in the dead-letter queue's own five-minute window and is dropped there.
 */
export function deadLetterCopy(record: SQSRecord): { MessageBody: string; MessageGroupId: string; MessageDeduplicationId: string } {
  const { MessageGroupId, MessageDeduplicationId } = record.attributes;
  return {
    MessageBody: record.body,
    MessageGroupId: MessageGroupId ?? record.messageId,
    MessageDeduplicationId: MessageDeduplicationId ?? record.messageId,
  };
}

/** An SQS batch handler with partial responses. */
export type QueueConsumerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

class RecordReturned extends Error {
  constructor(reason: string) {
    super(`Returned to the queue: ${reason}`);
    this.name = "RecordReturned";
  }
}

/**
 * The queue consumer over core's app built from `deps`: each record is decided by
 * `consumeQueueRecord` and the decision carried out (deleted, put back with a delay, or moved to
 * the dead-letter queue). With `metrics`, every run is counted and dead letters too.
 */
export function createQueueConsumerHandler(
  deps: AppDependencies & { metrics?: Metrics; control: QueueControl; consumer: () => ConsumerSettings },
): QueueConsumerHandler {
  const { metrics, control, consumer, ...appDeps } = deps;
  const app = createWebhookApp({ ...appDeps, ...(metrics ? { observe: observeInto(metrics) } : {}) });
  const { logger } = appDeps;

  return async (event, context) => {
    const decided = new Set<string>();
    const recordHandler = async (record: SQSRecord): Promise<void> => {
      const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
      const decision = await consumeQueueRecord({ body: record.body, receiveCount }, app, logger, consumer());
      decided.add(record.messageId);
      if (decision.kind === "done") return;
      if (decision.kind === "dead_letter") {
        await control.deadLetter(record);
        metrics?.addMetric(metricNames.eventsDeadLettered, MetricUnit.Count, 1);
        logger.error("Queued event dead-lettered", { messageId: record.messageId, receiveCount, reason: decision.reason });
        return;
      }
      await control.changeVisibility(record, decision.delaySeconds);
      throw new RecordReturned(decision.reason);
    };
    try {
      const response = await processPartialResponse(event, recordHandler, new SqsFifoPartialProcessorAsync(), {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      });
      // Records the processor failed without running (behind a failed one of their group) would
      // otherwise stay in flight for the whole visibility timeout, holding their group that long.
      // Visible now, they still come after the failed one: FIFO delivers nothing of a group while
      // one of its messages is in flight. Their receive ran nothing, so it is not held against them.
      const skipped = response.batchItemFailures.filter((failure) => !decided.has(failure.itemIdentifier));
      for (const failure of skipped) {
        const record = event.Records.find((candidate) => candidate.messageId === failure.itemIdentifier);
        if (!record) continue;
        await deferSkippedRecord(record, app);
        await control.changeVisibility(record, 0).catch((error: unknown) => {
          logger.warn("Could not release a record held behind a failed one", { messageId: record.messageId, error: errorSummary(error) });
        });
      }
      return response;
    } finally {
      metrics?.publishStoredMetrics();
    }
  };
}
