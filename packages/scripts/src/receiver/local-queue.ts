import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AppDependencies } from "@stripe-webhooks/core/app";
import type { QueueSender } from "@stripe-webhooks/core/enqueue";
import { createLedger } from "@stripe-webhooks/core/ledger";
import { backstopReceivesAboveConsumer, consumerLeaseSeconds, queueVisibilityTimeoutSeconds } from "@stripe-webhooks/core/limits";
import { createQueueConsumerHandler, deadLetterCopy, type QueueControl } from "@stripe-webhooks/functions/queue-consumer-handler";
import { queueDataPath } from "../data-dir.ts";
import { openSqsFifoStandIn, type Poller, type SqsFifoStandIn } from "../sqs-fifo-standin.ts";

/*
 * The local receiver's queued processing: the webhook sends to the SQS FIFO stand-in
 * (sqs-fifo-standin.ts says why it is a stand-in), and the deployed queue consumer's adapter
 * (createQueueConsumerHandler) is driven from it with SQS-shaped batches, under the settings a
 * stage gets by default (stage.ts's presets), so a developer sees the pacing and retries a stage has.
 */

/** The presets' consumer timeout: the lease and the visibility timeout derive from it, as in infra. */
export const localConsumerTimeoutSeconds = 300;
/** The test-mode presets' maximum concurrency: consumer batches in progress at once. */
export const localMaxConcurrency = 5;
/**
 * The test-mode presets' budget of Stripe requests per second for the consumers. Here every
 * batch goes through one app and so one Stripe client, which is paced at the whole budget.
 */
export const localStripeRequestsPerSecond = 25;
/** Failed handler runs after which the consumer dead-letters an event (the presets' maxReceives). */
export const localMaxReceives = 5;

export interface LocalQueue {
  /** The webhook's (and the reconciler's) send, into the stand-in. */
  sender: QueueSender;
  standIn: SqsFifoStandIn;
  /** The journal's directory. */
  dir: string;
  /** False for --memory: the journal is in a temporary directory, removed on close. */
  persisted: boolean;
  /** Messages a killed receiver left in flight, made visible again at the opening. */
  released: number;
  /** Starts the deployed consumer adapter over `deps` on the stand-in's polling driver. */
  startConsumer(deps: AppDependencies): void;
  /** Stops the consumer after the batches in progress and closes the journal. */
  close(): Promise<void>;
}

/** The lease the consumer's app claims events with, as infra sets LEASE_SECONDS. */
export const localConsumerLeaseSeconds = consumerLeaseSeconds(localConsumerTimeoutSeconds);

/**
 * Opens the stand-in queue of a data directory (`<dataDir>/queue/`), or one in a temporary
 * directory for `memory`. Messages a killed receiver left in flight are made visible at once:
 * the consumer lives in this process, so nothing can still be working on them.
 */
export async function openLocalQueue(options: { dataDir: string; memory: boolean }): Promise<LocalQueue> {
  const dir = options.memory ? await mkdtemp(join(tmpdir(), "stripe-webhooks-queue-")) : queueDataPath(options.dataDir);
  const standIn = await openSqsFifoStandIn({
    dir,
    visibilityTimeoutSeconds: queueVisibilityTimeoutSeconds(localConsumerTimeoutSeconds),
    maxReceiveCount: localMaxReceives + backstopReceivesAboveConsumer,
  });
  const released = await standIn.releaseInFlight();
  let poller: Poller | undefined;

  const sender: QueueSender = {
    async send(message) {
      await standIn.sendMessage(message.input);
    },
  };
  const control = standInQueueControl(standIn);

  return {
    sender,
    standIn,
    dir,
    persisted: !options.memory,
    released,
    startConsumer(deps) {
      const handler = createQueueConsumerHandler({
        ...deps,
        settings: () => ({ ...deps.settings(), stripeRequestsPerSecond: String(localStripeRequestsPerSecond) }),
        ledger: { ...deps.ledger, leaseSeconds: localConsumerLeaseSeconds },
        control,
        consumer: () => ({ maxReceives: localMaxReceives, leaseSeconds: localConsumerLeaseSeconds }),
      });
      poller = standIn.startPolling(handler, { maxConcurrency: localMaxConcurrency });
    },
    async close() {
      await poller?.stop();
      await standIn.close();
      if (options.memory) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The consumer's calls on the stand-in, as `sqs.ts` makes them on SQS. */
export function standInQueueControl(standIn: SqsFifoStandIn): QueueControl {
  return {
    async changeVisibility(record, seconds) {
      await standIn.changeMessageVisibility(record.receiptHandle, seconds);
    },
    async deadLetter(record) {
      await standIn.sendToDeadLetterQueue(deadLetterCopy(record), Number(record.attributes.ApproximateReceiveCount) || 0);
    },
  };
}

/**
 * The ids of ledger entries `queued` whose message the queue does not hold. The webhook sends
 * before it records, so only a lost queue leaves such an entry: a deleted or other queue
 * directory beside a ledger kept elsewhere (--dynamodb-endpoint). They cannot be re-sent from
 * here, since the ledger keeps no payloads.
 */
export async function queuedWithoutMessage(client: DynamoDBClient, tableName: string, standIn: SqsFifoStandIn): Promise<string[]> {
  const queued = await createLedger(client, tableName).list({ status: "queued" });
  return queued.map((entry) => entry.id).filter((id) => !standIn.holdsDeduplicationId(id));
}

/**
 * Releases the leases of every entry still `processing` in a ledger only this receiver can use
 * (the embedded one, under the data directory's lock): the runs that held them died with a
 * previous receiver, and waiting out a consumer's lease would hold each event, and its customer's
 * later ones, for minutes. Returns how many were released.
 */
export async function releaseAbandonedClaims(client: DynamoDBClient, tableName: string): Promise<number> {
  const ledger = createLedger(client, tableName);
  const abandoned = await ledger.list({ status: "processing" });
  for (const entry of abandoned) await ledger.releaseLease(entry.id);
  return abandoned.length;
}
