import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir, type CpuInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type Stripe from "stripe";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AppSettings } from "@stripe-webhooks/core/app";
import { listEntitlements } from "@stripe-webhooks/core/entitlements";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import type { Engine } from "@stripe-webhooks/testing/engines";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { createWebhookHandler } from "../../packages/functions/src/webhook-handler.ts";
import { functionUrlEvent } from "../shared/events.ts";
import { forkServing } from "../shared/ipc.ts";
import { quantile } from "../shared/stats.ts";
import { chargedTo, chargeTo, countDynamo, newTallies, type Delivery, type DynamoTally, type SqsTally } from "./counting.ts";
import { clock, mergeProcessed, processedRecorder, type ProcessedRecord } from "./processed.ts";
import { renewalScenario, type RenewalEvent } from "./scenario.ts";
import type { SqsSide } from "./sqs-side.ts";
import type { StripeSide } from "./stripe-side.ts";

/*
 * One renewal burst through one processing mode. This process plays Stripe sending deliveries
 * and the webhook's Lambda instances: the handler the entry builds (createWebhookHandler),
 * invoked once per delivery with the function URL event Lambda would pass, `concurrency` at a
 * time. What runs elsewhere in production runs in processes of its own, so its work does not
 * queue behind the answers being timed: the DynamoDB engine (`engine`, which the caller starts
 * in its own process), Stripe's API (stripe-side.ts) and, queued, SQS with Lambda's pollers
 * (sqs-side.ts), which invoke the deployed consumer adapter in a process of its own
 * (consumer-side.ts). The example handlers fetch from the Stripe API double through the real
 * `stripe` SDK, behind a proxy that gives each request Stripe's latency, and the double enforces
 * the read limit.
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
  /** From the first delivery until the last was answered: no event can be processed before it is delivered. */
  lastAnswerMs: number;
  /** Distinct subscriptions ÷ the read limit: one fetch each at the limit. */
  floorMs: number;
  answerP50Ms: number;
  answerP99Ms: number;
  /** CPU this process spent per delivery while answering them (the webhook's work and the bench's own). */
  webhookCpuMsPerDelivery: number;
  /** The share of the machine's cores busy, by any process, from the first delivery to the last answer. */
  answeringCoresBusy: number;
  cores: number;
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

/** The share of the cores' time between two readings that was not idle. */
function coresBusy(before: CpuInfo[], after: CpuInfo[]): number {
  const total = (cores: CpuInfo[]) => cores.reduce((sum, core) => sum + core.times.user + core.times.nice + core.times.sys + core.times.idle + core.times.irq, 0);
  const idle = (cores: CpuInfo[]) => cores.reduce((sum, core) => sum + core.times.idle, 0);
  const elapsed = total(after) - total(before);
  return elapsed > 0 ? 1 - (idle(after) - idle(before)) / elapsed : 0;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export async function runRenewal(options: RenewalRunOptions): Promise<RenewalRun> {
  const stripe = forkServing<StripeSide>(here("./stripe-side.ts"), "the renewal bench's Stripe side");
  const queue = options.mode === "queued" ? forkServing<SqsSide>(here("./sqs-side.ts"), "the renewal bench's SQS side") : undefined;
  const queueDir = await mkdtemp(join(tmpdir(), "bench-renewal-queue-"));
  const clients: DynamoDBClient[] = [];
  try {
    const { url: stripeApiBase } = await stripe.call("start", { apiKey, readsPerSecond: options.readsPerSecond, latencyMs: options.stripeLatencyMs });
    const tableName = await options.engine.createLedgerTable(`bench-renewal-${options.mode}-${options.seed}-${Date.now().toString(36)}`);
    const subscriptions: Partial<Stripe.Subscription>[] = [];
    const renewal = renewalScenario(
      { setSubscription: (fields) => void subscriptions.push(fields) },
      { customers: options.customers, seed: options.seed, createdSecondsAgo: options.createdSecondsAgo },
    );
    await stripe.call("setSubscriptions", subscriptions);
    const settings: AppSettings = {
      webhookSecret: options.secret,
      mode: "test",
      tableName,
      stripeApiKey: apiKey,
      stripeApiBase,
      processing: options.mode,
    };
    await queue?.call("start", {
      queueDir,
      dynamoEndpoint: options.engine.endpoint,
      transactions: options.transactions,
      settings,
      maxConcurrency: options.maxConcurrency,
      ...(options.consumerRequestsPerSecond === undefined ? {} : { consumerRequestsPerSecond: options.consumerRequestsPerSecond }),
      consumerTimeoutSeconds,
      maxReceives,
    });

    const tallies = newTallies();
    // Configured as the deployed functions configure theirs.
    const dynamo = options.engine.client({ cacheMiddleware: true });
    countDynamo(dynamo, tallies);
    clients.push(dynamo);
    const processed = processedRecorder();
    const seen = new Set<string>();
    const kinds = renewal.deliveries.map((event) => {
      const kind = seen.has(event.id) ? ("duplicate" as const) : ("new" as const);
      seen.add(event.id);
      return kind;
    });
    const webhook = createWebhookHandler({
      dynamo,
      settings: () => settings,
      registry: entitlementHandlers,
      logger: processed.logger,
      ledger: { transactions: options.transactions },
      queue: {
        send: async (message) => {
          if (!queue) throw new Error("an inline run sent to the queue");
          // Charged on the queue's side to the delivery whose invocation sent it.
          await queue.call("send", { kind: chargedTo(), message: message.input });
        },
      },
    });

    // The deliveries, `concurrency` in flight; each signed as it is made, as Stripe does.
    const latencies = new Array<number>(renewal.deliveries.length).fill(0);
    const statuses = new Array<number>(renewal.deliveries.length).fill(0);
    let next = 0;
    let webhookMs = 0;
    const deliver = async (event: RenewalEvent, index: number, kind: Delivery) => {
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
    const t0 = clock();
    const coresBefore = cpus();
    const cpuBefore = process.cpuUsage();
    await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
    const lastAnswerMs = clock() - t0;
    const webhookCpu = process.cpuUsage(cpuBefore);
    const answeringCoresBusy = coresBusy(coresBefore, cpus());

    // Inline: what is not processed now waits for Stripe's retries, hours away. Queued: the consumer drains.
    const distinct = renewal.events.length;
    const drained = await queue?.call("drain", { expected: distinct, timeoutMs: options.drainTimeoutMs });
    const records: ProcessedRecord[] = [processed.record(), ...(drained ? [drained.processed] : [])];
    const { firstAt, runs } = mergeProcessed(records);
    const { apiRequests, rateLimited } = await stripe.call("counts", undefined);

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

    if (drained) {
      tallies.dynamo.consumer = drained.dynamo;
      tallies.sqs = drained.sqs;
    }
    const statusCounts: Record<string, number> = {};
    for (const status of statuses) statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    const duplicates = kinds.filter((kind) => kind === "duplicate").length;
    const per = (dynamoTallies: DynamoTally[], sqsTallies: SqsTally[], count: number) => ({
      dynamoRequests: dynamoTallies.reduce((sum, t) => sum + t.awsRequests, 0) / count,
      readUnits: dynamoTallies.reduce((sum, t) => sum + t.readUnits, 0) / count,
      writeUnits: dynamoTallies.reduce((sum, t) => sum + t.writeUnits, 0) / count,
      sqsRequests: sqsTallies.reduce((sum, t) => sum + t.requests, 0) / count,
    });
    const subscriptionCount = new Set(renewal.events.map((event) => event.subscription)).size;
    const everyone = firstAt.size === distinct;
    return {
      mode: options.mode,
      readsPerSecond: options.readsPerSecond,
      maxConcurrency: options.maxConcurrency,
      events: distinct,
      deliveries: renewal.deliveries.length,
      duplicates,
      subscriptions: subscriptionCount,
      statusCounts,
      answers5xx: statuses.filter((status) => status >= 500 || status === 0).length,
      apiRequests,
      rateLimited,
      processed: firstAt.size,
      failedByRateLimit: leftFailed.filter((entry) => /rate.?limit|429/i.test(entry?.lastError ?? "")).length,
      deadLettered: entries.filter((entry) => entry?.deadLetteredAt !== undefined).length,
      processedTwice: [...runs.values()].filter((count) => count > 1).length,
      entitlementsEqualToApi: equal,
      drainMs: everyone ? Math.max(...firstAt.values()) - t0 : null,
      lastAnswerMs,
      floorMs: (subscriptionCount / options.readsPerSecond) * 1000,
      answerP50Ms: quantile(latencies, 0.5),
      answerP99Ms: quantile(latencies, 0.99),
      webhookMs,
      webhookCpuMsPerDelivery: (webhookCpu.user + webhookCpu.system) / 1000 / renewal.deliveries.length,
      answeringCoresBusy,
      cores: coresBefore.length,
      consumerMs: drained?.consumerMs ?? 0,
      consumerInvocations: drained?.consumerInvocations ?? 0,
      perEvent: {
        newEvent: per([tallies.dynamo.new, tallies.dynamo.consumer], [tallies.sqs.new, tallies.sqs.consumer], distinct),
        duplicate: per([tallies.dynamo.duplicate], [tallies.sqs.duplicate], Math.max(1, duplicates)),
      },
      dynamo: tallies.dynamo,
      sqs: tallies.sqs,
    };
  } finally {
    for (const made of clients) made.destroy();
    await stripe.call("close", undefined).catch(() => undefined);
    await stripe.stop();
    await queue?.stop();
    await rm(queueDir, { recursive: true, force: true });
  }
}
