import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AppSettings } from "@stripe-webhooks/core/app";
import { listEntitlements } from "@stripe-webhooks/core/entitlements";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { consumerLeaseSeconds, queueVisibilityTimeoutSeconds } from "@stripe-webhooks/core/limits";
import type { WebhookLogger } from "@stripe-webhooks/core/logger";
import type { Engine } from "@stripe-webhooks/testing/engines";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { startStripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { createQueueConsumerHandler } from "../../packages/functions/src/queue-consumer-handler.ts";
import { createWebhookHandler } from "../../packages/functions/src/webhook-handler.ts";
import { standInQueueControl } from "../../packages/scripts/src/receiver/local-queue.ts";
import { openSqsFifoStandIn } from "../../packages/scripts/src/sqs-fifo-standin.ts";
import { functionUrlEvent } from "../shared/events.ts";
import { quantile } from "../shared/stats.ts";
import { chargeTo, countDynamo, countSqs, newTallies, startLatencyProxy, type DynamoTally, type SqsTally } from "./counting.ts";
import { renewalScenario, type RenewalEvent } from "./scenario.ts";

/*
 * One renewal burst through one processing mode, in this process: the webhook handler the
 * Lambda entry builds (createWebhookHandler), invoked once per delivery with the function URL
 * event Lambda would pass, `concurrency` at a time; in queued mode it sends into the SQS FIFO
 * stand-in, whose polling driver runs the deployed consumer adapter (createQueueConsumerHandler)
 * with `maxConcurrency` batches at a time. The example handlers fetch from the Stripe API double
 * through the real `stripe` SDK, behind a proxy that gives each request Stripe's latency, and
 * the double enforces the read limit.
 */

export type ProcessingMode = "inline" | "queued";

export interface RenewalRunOptions {
  mode: ProcessingMode;
  engine: Engine;
  /** Whether the engine has transactions (staged effects commit with the completion, as on AWS). */
  transactions: boolean;
  customers: number;
  concurrency: number;
  readsPerSecond: number;
  /** The consumer's maximum concurrency (queued mode). */
  maxConcurrency: number;
  /** Each consumer's pace of Stripe requests (queued mode), as infra sets it; unset, unpaced. */
  consumerRequestsPerSecond?: number;
  stripeLatencyMs: number;
  createdSecondsAgo: number;
  seed: number;
  secret: string;
  /** How long the queue may take to drain before the run gives up waiting. */
  drainTimeoutMs: number;
}

/** DynamoDB requests (as AWS would bill them) and units, and SQS requests (64 KiB chunks). */
export interface EventCost {
  dynamoRequests: number;
  readUnits: number;
  writeUnits: number;
  sqsRequests: number;
}

/** Requests per event, by who paid for them. */
export interface PerEvent {
  /** Per event: its first delivery and everything the consumer did (queued mode). */
  newEvent: EventCost;
  /** Per later delivery of an event. */
  duplicate: EventCost;
}

export interface RenewalRun {
  mode: ProcessingMode;
  readsPerSecond: number;
  maxConcurrency: number;
  events: number;
  deliveries: number;
  duplicates: number;
  subscriptions: number;
  statusCounts: Record<string, number>;
  answers5xx: number;
  apiRequests: number;
  rateLimited: number;
  /** Events processed by the time the run ended (the queue drained, or the last answer inline). */
  processed: number;
  /** Events the ledger holds failed or dead-lettered at the end with a rate limit as their last error. */
  failedByRateLimit: number;
  deadLettered: number;
  /** Handler runs that committed twice for one event (the ledger's claim should make it 0). */
  processedTwice: number;
  /** Customers whose stored entitlement equals the API's state at the end. */
  entitlementsEqualToApi: number;
  /** From the first delivery until every event was processed; null when some were not. */
  drainMs: number | null;
  /** Distinct subscriptions ÷ the read limit: one fetch each at the limit. */
  floorMs: number;
  answerP50Ms: number;
  answerP99Ms: number;
  /** Summed time inside the webhook invocations and the consumer's batches (Lambda's billed duration). */
  webhookMs: number;
  consumerMs: number;
  consumerInvocations: number;
  perEvent: PerEvent;
  dynamo: Record<"new" | "duplicate" | "consumer", DynamoTally>;
  sqs: Record<"new" | "duplicate" | "consumer", SqsTally>;
}

const apiKey = "sk_test_benchRenewal";
const consumerTimeoutSeconds = 300;
const maxReceives = 5;

interface SummaryLine {
  eventId?: unknown;
  outcome?: unknown;
}

// Keeps what the run needs from the summary lines: when each event was first processed, and
// how often. Handler lines and everything else are dropped (they never hold payloads anyway).
function recordingLogger(started: () => number) {
  const processedAt = new Map<string, number>();
  const processedRuns = new Map<string, number>();
  const take = (_message: string, ...attributes: Record<string, unknown>[]) => {
    const line: SummaryLine = Object.assign({}, ...attributes);
    if (line.outcome !== "processed" || typeof line.eventId !== "string") return;
    processedRuns.set(line.eventId, (processedRuns.get(line.eventId) ?? 0) + 1);
    if (!processedAt.has(line.eventId)) processedAt.set(line.eventId, performance.now() - started());
  };
  const logger: WebhookLogger = { info: take, warn: take, error: take };
  return { logger, processedAt, processedRuns };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runRenewal(options: RenewalRunOptions): Promise<RenewalRun> {
  const double = await startStripeApiDouble({ apiKeys: [apiKey], rateLimit: { mode: "test", readsPerSecond: options.readsPerSecond } });
  const proxy = await startLatencyProxy(double.url, options.stripeLatencyMs);
  const queueDir = await mkdtemp(join(tmpdir(), "bench-renewal-queue-"));
  const clients: DynamoDBClient[] = [];
  try {
    const tableName = await options.engine.createLedgerTable(`bench-renewal-${options.mode}-${options.seed}-${Date.now().toString(36)}`);
    const renewal = renewalScenario(double, { customers: options.customers, seed: options.seed, createdSecondsAgo: options.createdSecondsAgo });
    const tallies = newTallies();
    const client = () => {
      // Configured as the deployed functions configure theirs.
      const made = options.engine.client({ cacheMiddleware: true });
      countDynamo(made, tallies);
      clients.push(made);
      return made;
    };
    let t0 = 0;
    const { logger, processedAt, processedRuns } = recordingLogger(() => t0);
    const settings = (): AppSettings => ({
      webhookSecret: options.secret,
      mode: "test",
      tableName,
      stripeApiKey: apiKey,
      stripeApiBase: proxy.url,
      processing: options.mode,
    });
    const ledger = { transactions: options.transactions };

    const standIn = await openSqsFifoStandIn({ dir: queueDir, visibilityTimeoutSeconds: queueVisibilityTimeoutSeconds(consumerTimeoutSeconds) });
    countSqs(standIn, tallies);
    const webhook = createWebhookHandler({
      dynamo: client(),
      settings,
      registry: entitlementHandlers,
      logger,
      ledger,
      queue: { send: async (message) => void (await standIn.sendMessage(message.input)) },
    });

    let consumerMs = 0;
    let consumerInvocations = 0;
    const poller = (() => {
      if (options.mode !== "queued") return undefined;
      const leaseSeconds = consumerLeaseSeconds(consumerTimeoutSeconds);
      const control = standInQueueControl(standIn);
      // Lambda runs one batch at a time per instance, each instance with its own clients (and so
      // its own pace of Stripe requests): a pool of `maxConcurrency` instances, one per batch.
      const instance = () => createQueueConsumerHandler({
        dynamo: client(),
        // As the deployed consumer: it processes what it is given, it never enqueues.
        settings: () => ({
          ...settings(),
          processing: undefined,
          ...(options.consumerRequestsPerSecond === undefined ? {} : { stripeRequestsPerSecond: String(options.consumerRequestsPerSecond) }),
        }),
        registry: entitlementHandlers,
        logger,
        ledger: { ...ledger, leaseSeconds },
        control,
        consumer: () => ({ maxReceives, leaseSeconds }),
      });
      const idle = Array.from({ length: options.maxConcurrency }, instance);
      // Lambda's pollers long-poll, so a message that becomes visible is taken at once; the
      // stand-in's driver looks again after this wait instead.
      return standIn.startPolling(
        async (event, context) => {
          const consumer = idle.pop();
          if (!consumer) throw new Error("The stand-in ran more batches at once than its maxConcurrency.");
          const started = performance.now();
          try {
            return await consumer(event, context);
          } finally {
            consumerMs += performance.now() - started;
            consumerInvocations += 1;
            idle.push(consumer);
          }
        },
        { maxConcurrency: options.maxConcurrency, idleWaitMs: 50, onError: () => undefined },
      );
    })();

    // The deliveries, `concurrency` in flight; each signed as it is made, as Stripe does.
    const seen = new Set<string>();
    const kinds = renewal.deliveries.map((event) => {
      const kind = seen.has(event.id) ? ("duplicate" as const) : ("new" as const);
      seen.add(event.id);
      return kind;
    });
    const latencies = new Array<number>(renewal.deliveries.length).fill(0);
    const statuses = new Array<number>(renewal.deliveries.length).fill(0);
    let next = 0;
    let webhookMs = 0;
    const deliver = async (event: RenewalEvent, index: number, kind: "new" | "duplicate") => {
      const started = performance.now();
      const answer = await chargeTo(kind, () => webhook(functionUrlEvent(event, options.secret))).catch(() => ({ statusCode: 0 }));
      latencies[index] = performance.now() - started;
      webhookMs += latencies[index] ?? 0;
      statuses[index] = answer.statusCode;
    };
    const worker = async () => {
      while (next < renewal.deliveries.length) {
        const index = next;
        next += 1;
        const event = renewal.deliveries[index];
        const kind = kinds[index];
        if (event && kind) await deliver(event, index, kind);
      }
    };
    t0 = performance.now();
    await Promise.all(Array.from({ length: options.concurrency }, () => worker()));

    // Inline: what is not processed now waits for Stripe's retries, hours away. Queued: the consumer drains.
    const distinct = renewal.events.length;
    if (poller) {
      const deadline = performance.now() + options.drainTimeoutMs;
      while (processedAt.size < distinct && performance.now() < deadline) await sleep(20);
      await poller.stop();
    }
    await standIn.close();

    // The ledger and the projection as the run left them, read by a client that is not counted.
    const reader = options.engine.client();
    clients.push(reader);
    const storedLedger = ledgerReader(reader, tableName);
    const entries = await Promise.all(renewal.events.map((event) => storedLedger.get(event.id)));
    const leftFailed = entries.filter((entry) => entry !== undefined && entry.status !== "processed");
    const stored = new Map((await listEntitlements(reader, tableName)).map((entitlement) => [entitlement.customer, entitlement.subscription]));
    let equal = 0;
    for (const [customer, expected] of renewal.truth) {
      const actual = stored.get(customer);
      if (actual && actual.id === expected.subscription && actual.status === expected.status && actual.priceId === expected.priceId && actual.currentPeriodEnd === expected.currentPeriodEnd) equal += 1;
    }

    const statusCounts: Record<string, number> = {};
    for (const status of statuses) statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    const duplicates = kinds.filter((kind) => kind === "duplicate").length;
    const per = (dynamo: DynamoTally[], sqs: SqsTally[], count: number) => ({
      dynamoRequests: dynamo.reduce((sum, t) => sum + t.awsRequests, 0) / count,
      readUnits: dynamo.reduce((sum, t) => sum + t.readUnits, 0) / count,
      writeUnits: dynamo.reduce((sum, t) => sum + t.writeUnits, 0) / count,
      sqsRequests: sqs.reduce((sum, t) => sum + t.requests, 0) / count,
    });
    const subscriptions = new Set(renewal.events.map((event) => event.subscription)).size;
    const everyone = processedAt.size === distinct;
    return {
      mode: options.mode,
      readsPerSecond: options.readsPerSecond,
      maxConcurrency: options.maxConcurrency,
      events: distinct,
      deliveries: renewal.deliveries.length,
      duplicates,
      subscriptions,
      statusCounts,
      answers5xx: statuses.filter((status) => status >= 500 || status === 0).length,
      apiRequests: double.requestCount(/^\/v1\/subscriptions/),
      rateLimited: double.rateLimited(),
      processed: processedAt.size,
      failedByRateLimit: leftFailed.filter((entry) => /rate.?limit|429/i.test(entry?.lastError ?? "")).length,
      deadLettered: entries.filter((entry) => entry?.deadLetteredAt !== undefined).length,
      processedTwice: [...processedRuns.values()].filter((runs) => runs > 1).length,
      entitlementsEqualToApi: equal,
      drainMs: everyone ? Math.max(...processedAt.values()) : null,
      floorMs: (subscriptions / options.readsPerSecond) * 1000,
      answerP50Ms: quantile(latencies, 0.5),
      answerP99Ms: quantile(latencies, 0.99),
      webhookMs,
      consumerMs,
      consumerInvocations,
      perEvent: {
        newEvent: per([tallies.dynamo.new, tallies.dynamo.consumer], [tallies.sqs.new, tallies.sqs.consumer], distinct),
        duplicate: per([tallies.dynamo.duplicate], [tallies.sqs.duplicate], Math.max(1, duplicates)),
      },
      dynamo: tallies.dynamo,
      sqs: tallies.sqs,
    };
  } finally {
    for (const made of clients) made.destroy();
    await proxy.close();
    await double.close();
    await rm(queueDir, { recursive: true, force: true });
  }
}
