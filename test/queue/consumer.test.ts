import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { HandlerRegistry } from "@stripe-webhooks/core/dispatch";
import type { QueueSender } from "@stripe-webhooks/core/enqueue";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import type { LedgerEntry } from "@stripe-webhooks/core/ledger";
import { consumerLeaseSeconds, leaseSeconds as webhookLeaseSeconds, queueVisibilityTimeoutSeconds } from "@stripe-webhooks/core/limits";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { createQueueConsumerHandler, type QueueConsumerHandler } from "@stripe-webhooks/functions/queue-consumer-handler";
import { createWebhookHandler } from "@stripe-webhooks/functions/webhook-handler";
import { standInQueueControl } from "@stripe-webhooks/scripts/receiver/local-queue";
import {
  openSqsFifoStandIn,
  type BatchOutcome,
  type SqsBatchHandler,
  type SqsFifoStandIn,
} from "@stripe-webhooks/scripts/sqs-fifo-standin";
import { buildEvent, newEventId, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { effectRegistry, type EffectRegistry } from "@stripe-webhooks/testing/effect-registry";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { recordingLogger, type LogLine } from "@stripe-webhooks/testing/recording-logger";
import { startStripeApiDouble, subscriptionItems, type StripeApiDouble, type StripeApiRateLimit } from "@stripe-webhooks/testing/stripe-api-double";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

/*
 * The queued path end to end, on both DynamoDB engines: signed deliveries into the webhook
 * handler of a queued stage, whose QueueSender sends into the SQS FIFO stand-in (the local
 * receiver's, packages/scripts), which drives the deployed consumer adapter with SQS-shaped
 * batches and honours its partial batch responses; the consumer's QueueControl is carried out on
 * the stand-in. Handlers are the test kit's counting registry, or the example handlers reading
 * the Stripe API double through the real SDK. One clock is injected into the app (leases,
 * signatures), the stand-in (visibility, delays) and the double's rate limit, so minutes pass
 * without waiting and nothing depends on how fast the machine is.
 *
 * It sits in the root test tree, not in packages/functions, because it joins the functions'
 * adapters with the scripts' stand-in, and functions must not depend on scripts (which depends
 * on functions).
 */

const secret = newWebhookSecret();
const apiKey = `sk_test_${randomBytes(12).toString("hex")}`;
// Near the real time: DynamoDB Local enforces TTL, so items dated in the past would vanish.
const startMs = Math.floor(Date.now() / 1000) * 1000;
// The deployed default: the consumer's lease and the queue's visibility derive from it, as in infra.
const consumerTimeoutSeconds = 300;

interface HarnessOptions {
  registry?: HandlerRegistry;
  maxReceives?: number;
  leaseSeconds?: number;
  visibilityTimeoutSeconds?: number;
  /** The double's rate limit, on the harness's clock. */
  rateLimit?: Omit<StripeApiRateLimit, "now">;
}

interface Harness {
  clock: { ms: number };
  handlers: EffectRegistry;
  double: StripeApiDouble;
  queue: SqsFifoStandIn;
  lines: LogLine[];
  /** Event ids in the order handlers started on them. */
  runs: string[];
  /** Sends the webhook made to the queue (refused ones included). */
  sends: { count: number; refuseNext: number };
  consumer: QueueConsumerHandler;
  /** Errors the stand-in's driver reported (a delete refused, a batch that threw). */
  driverErrors: unknown[];
  deliver(event: Record<string, unknown>): Promise<{ statusCode: number; result: unknown }>;
  batch(handler?: SqsBatchHandler): Promise<BatchOutcome>;
  /** Runs batches, moving the clock on whenever nothing is visible, until the queue is empty. */
  drain(options?: { stepMs?: number; maxSteps?: number }): Promise<void>;
  /** Moves the dead-letter queue's messages back to the queue (the stand-in's redrive). */
  redrive(): Promise<number>;
  deadLettered(): number;
  entry(id: string): Promise<LedgerEntry | undefined>;
}

describeEachEngine("queued processing", (engine, definition) => {
  let client: DynamoDBClient;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(() => {
    client = engine().client();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => client.destroy());

  async function harness(options: HarnessOptions = {}): Promise<Harness> {
    const tableName = await engine().createLedgerTable();
    const clock = { ms: startMs };
    const now = () => clock.ms;
    const lease = options.leaseSeconds ?? consumerLeaseSeconds(consumerTimeoutSeconds);
    const dir = await mkdtemp(join(tmpdir(), "queue-consumer-test-"));
    const queue = await openSqsFifoStandIn({
      dir,
      now,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? queueVisibilityTimeoutSeconds(consumerTimeoutSeconds),
      // infra's backstop sits far above the consumer's own count, which leaves deferrals out.
      maxReceiveCount: 100,
    });
    const double = await startStripeApiDouble({
      apiKeys: [apiKey],
      ...(options.rateLimit ? { rateLimit: { ...options.rateLimit, now } } : {}),
    });
    cleanups.push(async () => {
      await queue.close();
      await double.close();
      await rm(dir, { recursive: true, force: true });
    });

    const handlers = effectRegistry();
    const runs: string[] = [];
    handlers.onRun((event) => {
      runs.push(event.id);
    });
    const registry = options.registry ?? handlers.registry;
    const { logger, lines } = recordingLogger();
    const sends = { count: 0, refuseNext: 0 };
    const sender: QueueSender = {
      async send(message) {
        sends.count += 1;
        if (sends.refuseNext > 0) {
          sends.refuseNext -= 1;
          throw Object.assign(new Error("Service Unavailable"), { name: "ServiceUnavailable" });
        }
        await queue.sendMessage(message.input);
      },
    };
    // The receiver's control over the stand-in: what the deployed consumer does on SQS (sqs.ts).
    const control = standInQueueControl(queue);
    // The consumer's settings as the deployed entry's: no signing secret, no processing mode (it never enqueues).
    const consumerSettings = () => ({ tableName, mode: "test", stripeApiKey: apiKey, stripeApiBase: double.url });
    const settings = () => ({ ...consumerSettings(), webhookSecret: secret, processing: "queued" });
    // dynalite has no transactions: the example handlers' staged effects are written one by one there.
    const ledger = { transactions: definition.transactions };
    const webhook = createWebhookHandler({ dynamo: client, settings, registry, logger, now, queue: sender, ledger });
    const consumer = createQueueConsumerHandler({
      dynamo: client,
      settings: consumerSettings,
      registry,
      logger,
      now,
      ledger: { ...ledger, leaseSeconds: lease },
      control,
      // A fixed draw keeps the retry delays the same on every run.
      consumer: () => ({ maxReceives: options.maxReceives ?? 3, leaseSeconds: lease, random: () => 0.5 }),
    });
    const driverErrors: unknown[] = [];
    const batch = (handler: SqsBatchHandler = consumer) => queue.processBatch(handler, { onError: (error) => driverErrors.push(error) });

    return {
      clock,
      handlers,
      double,
      queue,
      lines,
      runs,
      sends,
      consumer,
      driverErrors,
      async deliver(event) {
        const response = await webhook(functionUrlEvent(event, Math.floor(clock.ms / 1000)));
        return { statusCode: response.statusCode, result: (JSON.parse(response.body) as { result?: unknown }).result };
      },
      batch,
      async drain({ stepMs = 1_000, maxSteps = 5_000 } = {}) {
        for (let step = 0; step < maxSteps; step += 1) {
          const { received } = await batch();
          if (received.length > 0) continue;
          const { visible, inFlight, delayed } = queue.counts();
          if (visible + inFlight + delayed === 0) return;
          clock.ms += stepMs;
        }
        throw new Error(`the queue did not drain: ${JSON.stringify(queue.counts())}`);
      },
      redrive: () => queue.redrive(),
      deadLettered: () => queue.counts().deadLettered,
      entry: (id) => ledgerReader(client, tableName).get(id),
    };
  }

  // A catalog event about `customer`, so the message group is the customer.
  function eventFor(customer: string, type = "invoice.paid", id = newEventId()): Record<string, unknown> & { id: string } {
    return buildEvent(type, { id, created: Math.floor(startMs / 1000) - 60, object: { customer } }) as Record<string, unknown> & {
      id: string;
    };
  }

  const runsOf = (h: Harness, ids: readonly string[]) => h.runs.filter((id) => ids.includes(id));

  describe("order within a message group", () => {
    it("runs one customer's events in delivery order, a failed one holding back the rest of its group only", async () => {
      const h = await harness();
      const a = [eventFor("cus_orderA"), eventFor("cus_orderA"), eventFor("cus_orderA")];
      const b = [eventFor("cus_orderB"), eventFor("cus_orderB")];
      const [a1, a2, a3] = a.map((event) => event.id);
      const interleaved = [a[0], b[0], a[1], b[1], a[2]];
      for (const event of interleaved) expect((await h.deliver(event ?? {})).result).toBe("queued");
      let failedOnce = false;
      h.handlers.fail((event) => {
        if (event.id !== a1 || failedOnce) return false;
        failedOnce = true;
        return true;
      });

      await h.drain();

      expect(runsOf(h, a.map((event) => event.id))).toEqual([a1, a1, a2, a3]);
      expect(runsOf(h, b.map((event) => event.id))).toEqual(b.map((event) => event.id));
      for (const event of [...a, ...b]) {
        expect(h.handlers.effects(event.id)).toBe(1);
        expect((await h.entry(event.id))?.status).toBe("processed");
      }
    });
  });

  describe("partial batch failure", () => {
    it("deletes the other groups' records, keeps the failed group's later records behind the failed one, and runs them once it succeeds", async () => {
      const h = await harness();
      const [a1, a2, b1] = [eventFor("cus_partialA"), eventFor("cus_partialA"), eventFor("cus_partialB")];
      for (const event of [a1, a2, b1]) await h.deliver(event);
      h.handlers.fail((event) => event.id === a1.id);

      const first = await h.batch();

      expect(first.received).toHaveLength(3);
      expect(h.handlers.started(b1.id)).toBe(1);
      expect(h.handlers.started(a2.id)).toBe(0);
      expect((await h.entry(b1.id))?.status).toBe("processed");
      expect((await h.entry(a1.id))?.status).toBe("failed");
      expect((await h.entry(a2.id))?.status).toBe("queued");
      // a2 was made visible again at once, yet its group is held while a1 waits out its delay.
      expect(h.queue.counts()).toMatchObject({ visible: 1, inFlight: 1 });
      expect((await h.batch()).received).toEqual([]);
      expect(h.handlers.started(a2.id)).toBe(0);

      h.handlers.succeed();
      await h.drain();

      expect(runsOf(h, [a1.id, a2.id])).toEqual([a1.id, a1.id, a2.id]);
      expect(h.handlers.effects(a1.id)).toBe(1);
      expect(h.handlers.effects(a2.id)).toBe(1);
    });
  });

  describe("deduplication", () => {
    it("queues an event delivered twice at once as one message, and runs it once", async () => {
      const h = await harness();
      const event = eventFor("cus_dedupRace");

      const answers = await Promise.all([h.deliver(event), h.deliver(event)]);

      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
      expect(h.queue.counts().visible).toBe(1);
      await h.drain();
      expect(h.handlers.started(event.id)).toBe(1);
      expect((await h.entry(event.id))?.status).toBe("processed");
    });

    it("answers a repeated delivery of a queued or settled event from the ledger, sending nothing", async () => {
      const h = await harness();
      const event = eventFor("cus_dedupLater");
      expect(await h.deliver(event)).toEqual({ statusCode: 200, result: "queued" });

      // Past SQS's five-minute deduplication window: only the ledger stands between this delivery and a second message.
      h.clock.ms += 6 * 60_000;
      expect(await h.deliver(event)).toEqual({ statusCode: 200, result: "duplicate" });
      expect(h.sends.count).toBe(1);

      await h.drain();
      h.clock.ms += 6 * 60_000;
      expect(await h.deliver(event)).toEqual({ statusCode: 200, result: "duplicate" });

      expect(h.sends.count).toBe(1);
      expect(h.queue.counts()).toMatchObject({ visible: 0, inFlight: 0 });
      expect(h.handlers.started(event.id)).toBe(1);
    });

    it("answers a send the queue refuses 500 queue_unavailable with nothing recorded, and sends again on Stripe's retry", async () => {
      const h = await harness();
      const event = eventFor("cus_sendFails");
      h.sends.refuseNext = 1;

      const refused = await h.deliver(event);

      expect(refused).toEqual({ statusCode: 500, result: undefined });
      expect(await h.entry(event.id)).toBeUndefined();
      expect(h.queue.counts().visible).toBe(0);
      const line = h.lines.find((candidate) => candidate.attributes.eventId === event.id);
      expect(line).toMatchObject({ level: "error", attributes: { outcome: "queue_unavailable", statusCode: 500 } });

      expect(await h.deliver(event)).toEqual({ statusCode: 200, result: "queued" });
      expect(h.sends.count).toBe(2);
      await h.drain();
      expect(h.handlers.effects(event.id)).toBe(1);
    });

    it("sends an event whose run failed again when Stripe redelivers it", async () => {
      // One receive, so the failed run is dead-lettered and only the redelivery can bring it back.
      const h = await harness({ maxReceives: 1 });
      const event = eventFor("cus_failedThenRedelivered");
      await h.deliver(event);
      h.handlers.fail();
      await h.drain();
      expect((await h.entry(event.id))?.status).toBe("failed");
      expect(h.deadLettered()).toBe(1);

      h.handlers.succeed();
      h.clock.ms += 6 * 60_000;
      expect(await h.deliver(event)).toEqual({ statusCode: 200, result: "queued" });
      await h.drain();

      expect(h.sends.count).toBe(2);
      expect(h.handlers.effects(event.id)).toBe(1);
      expect((await h.entry(event.id))?.status).toBe("processed");
    });
  });

  describe("a visibility timeout ending while the first run still holds the lease", () => {
    it("puts the second receive back until the lease ends, uncounted, and the event runs once", async () => {
      // A visibility timeout shorter than the lease: what a consumer slower than its queue's
      // visibility meets. The lease, not the queue, keeps the second copy from running.
      const h = await harness({ visibilityTimeoutSeconds: 30, leaseSeconds: 120, maxReceives: 1 });
      const event = eventFor("cus_visibility");
      await h.deliver(event);
      let release: () => void = () => undefined;
      let entered: () => void = () => undefined;
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      h.handlers.onRun(async () => {
        h.runs.push(event.id);
        entered();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });

      const first = h.batch();
      await inside;
      h.clock.ms += 31_000;
      const second = await h.batch();
      release();
      await first;

      expect(second.received).toHaveLength(1);
      expect(second.failed).toHaveLength(1);
      expect(h.handlers.started(event.id)).toBe(1);
      // The first run's delete came with a receipt handle the second receive had replaced.
      expect(h.driverErrors).toHaveLength(1);
      const entry = await h.entry(event.id);
      expect(entry).toMatchObject({ status: "processed", attempts: 1, deferrals: 1 });
      expect(entry?.deadLetteredAt).toBeUndefined();

      await h.drain();
      expect(h.handlers.started(event.id)).toBe(1);
      expect(h.handlers.effects(event.id)).toBe(1);
      expect(h.deadLettered()).toBe(0);
    });
  });

  describe("a consumer that crashes after the completion, before the message is deleted", () => {
    it("finds the redelivered message a duplicate: no second run, and the message is deleted", async () => {
      const h = await harness();
      const event = eventFor("cus_crash");
      await h.deliver(event);
      const crashing: SqsBatchHandler = async (sqsEvent, context) => {
        await h.consumer(sqsEvent, context);
        throw new Error("the container died before the event source mapping deleted the batch");
      };

      const crashed = await h.batch(crashing);
      expect(crashed.failed).toHaveLength(1);
      expect((await h.entry(event.id))?.status).toBe("processed");
      expect((await h.batch()).received).toEqual([]);

      h.clock.ms += queueVisibilityTimeoutSeconds(consumerTimeoutSeconds) * 1000;
      const redelivered = await h.batch();

      expect(redelivered.deleted).toHaveLength(1);
      expect(h.handlers.started(event.id)).toBe(1);
      expect(h.handlers.effects(event.id)).toBe(1);
      expect(h.queue.counts()).toMatchObject({ visible: 0, inFlight: 0, deadLettered: 0 });
      expect(h.lines.some((line) => line.attributes.source === "queue" && line.attributes.outcome === "duplicate")).toBe(true);
    });
  });

  describe("dead-lettering and redrive", () => {
    it("dead-letters an event after maxReceives failed runs, lets its group proceed, and processes it once redriven", async () => {
      const h = await harness({ maxReceives: 3 });
      const [poisoned, behind] = [eventFor("cus_deadLetter"), eventFor("cus_deadLetter")];
      await h.deliver(poisoned);
      await h.deliver(behind);
      h.handlers.fail((event) => event.id === poisoned.id);

      await h.drain();

      expect(h.handlers.started(poisoned.id)).toBe(3);
      expect(h.deadLettered()).toBe(1);
      const dead = await h.entry(poisoned.id);
      expect(dead).toMatchObject({ status: "failed", attempts: 3 });
      expect(dead?.deadLetteredAt).toBeDefined();
      expect(h.handlers.effects(behind.id)).toBe(1);
      expect(h.lines.some((line) => line.message === "Queued event dead-lettered")).toBe(true);

      h.handlers.succeed();
      expect(await h.redrive()).toBe(1);
      await h.drain();

      expect(h.handlers.effects(poisoned.id)).toBe(1);
      expect((await h.entry(poisoned.id))?.status).toBe("processed");
      expect(h.queue.counts()).toMatchObject({ visible: 0, inFlight: 0, deadLettered: 0 });
    });

    it("counts only an event's own failed runs: receives spent waiting behind a failed one of its group do not dead-letter it", async () => {
      const h = await harness({ maxReceives: 3 });
      const [poisoned, behind] = [eventFor("cus_heldBehind"), eventFor("cus_heldBehind")];
      await h.deliver(poisoned);
      await h.deliver(behind);
      let behindFailures = 0;
      h.handlers.fail((event) => {
        if (event.id === poisoned.id) return true;
        behindFailures += 1;
        // One transient failure of its own, after three receives spent behind the poisoned event.
        return behindFailures === 1;
      });

      await h.drain();

      expect(h.handlers.started(poisoned.id)).toBe(3);
      expect(h.handlers.started(behind.id)).toBe(2);
      expect(h.handlers.effects(behind.id)).toBe(1);
      const entry = await h.entry(behind.id);
      expect(entry?.status).toBe("processed");
      expect(entry?.deadLetteredAt).toBeUndefined();
      expect(h.deadLettered()).toBe(1);
    });

    it("dead-letters a message that is not a queued event at its first receive, touching no ledger entry", async () => {
      const h = await harness();
      const body = `{"not":"an event","secret":"${secret}"}`;
      await h.queue.sendMessage({ MessageBody: body, MessageGroupId: "cus_malformed", MessageDeduplicationId: randomUUID() });

      const outcome = await h.batch();

      expect(outcome.deleted).toHaveLength(1);
      expect(h.deadLettered()).toBe(1);
      expect(h.queue.deadLetters()[0]).toMatchObject({ Body: body, ReceiveCount: 1 });
      expect(h.runs).toEqual([]);
      expect(JSON.stringify(h.lines)).not.toContain(secret);
    });
  });

  describe("Stripe's rate limit", () => {
    it("defers 429s with a growing delay, uncounted, until every event is processed: none dead-lettered", async () => {
      // One read a second against a burst of six subscriptions, with one counted receive allowed:
      // only deferrals that do not count can get them all through.
      const h = await harness({ registry: entitlementHandlers, maxReceives: 1, rateLimit: { readsPerSecond: 1, burst: 1 } });
      const events = Array.from({ length: 6 }, (_, index) => {
        const customer = `cus_rate${index}${randomBytes(3).toString("hex")}`;
        const subscription = `sub_rate${index}${randomBytes(3).toString("hex")}`;
        h.double.setSubscription({ id: subscription, customer, status: "active", items: subscriptionItems(subscription, "price_basic", 1_900_000_000) });
        return buildEvent("customer.subscription.updated", {
          id: newEventId(),
          created: Math.floor(startMs / 1000) - 60,
          object: { id: subscription, customer },
        }) as Record<string, unknown> & { id: string };
      });
      for (const event of events) expect((await h.deliver(event)).statusCode).toBe(200);

      await h.drain();

      expect(h.double.rateLimited()).toBeGreaterThan(0);
      expect(h.deadLettered()).toBe(0);
      const entries = await Promise.all(events.map((event) => h.entry(event.id)));
      expect(entries.map((entry) => entry?.status)).toEqual(events.map(() => "processed"));
      expect(entries.some((entry) => (entry?.deferrals ?? 0) >= 2)).toBe(true);
      expect(entries.every((entry) => entry?.deadLetteredAt === undefined)).toBe(true);
    });
  });

  describe("a handler longer than the webhook's timeout", () => {
    it("succeeds when queued: the consumer's lease and visibility cover it, so nothing else runs it meanwhile", async () => {
      const h = await harness();
      const event = eventFor("cus_longHandler");
      await h.deliver(event);
      const during: { received: number; redelivery: unknown }[] = [];
      h.handlers.onRun(async () => {
        h.runs.push(event.id);
        // Four minutes pass inside the handler: far past the webhook's lease, within the consumer's.
        h.clock.ms += 4 * 60_000;
        during.push({ received: (await h.batch()).received.length, redelivery: (await h.deliver(event)).result });
      });

      await h.drain();

      expect(4 * 60).toBeGreaterThan(webhookLeaseSeconds);
      expect(during).toEqual([{ received: 0, redelivery: "duplicate" }]);
      expect(h.handlers.started(event.id)).toBe(1);
      const entry = await h.entry(event.id);
      expect(entry).toMatchObject({ status: "processed", attempts: 1 });
      expect(h.handlers.effects(event.id)).toBe(1);
    });
  });
});

// A function URL event carrying `event` as Stripe delivers it, signed at `timestamp`.
function functionUrlEvent(event: Record<string, unknown>, timestamp: number): LambdaFunctionURLEvent {
  const payload = JSON.stringify(event, null, 2);
  const headers = { "content-type": "application/json; charset=utf-8", "stripe-signature": signPayload(payload, secret, timestamp) };
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: webhookPath,
    rawQueryString: "",
    headers,
    requestContext: {
      accountId: "anonymous",
      apiId: "queued",
      domainName: "queued.lambda-url.us-east-1.on.aws",
      domainPrefix: "queued",
      http: { method: "POST", path: webhookPath, protocol: "HTTP/1.1", sourceIp: "3.18.12.63", userAgent: "Stripe/1.0" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date(timestamp * 1000).toUTCString(),
      timeEpoch: timestamp * 1000,
    },
    body: payload,
    isBase64Encoded: false,
  };
}
