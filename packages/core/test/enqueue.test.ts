import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type Stripe from "stripe";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWebhookApp, type WebhookApp } from "../src/app.ts";
import { enqueueEvent, type QueueSender } from "../src/enqueue.ts";
import { LivemodeMismatchError, MalformedEventError, QueueUnavailableError, errorSummary } from "../src/errors.ts";
import { createLedger, type Ledger, type LedgerEvent } from "../src/ledger.ts";
import type { EncodedQueueMessage } from "../src/queue-message.ts";
import { reconcile, type ReconcileReport } from "../src/reconcile.ts";
import { createStripeClient } from "../src/stripe-api.ts";
import { effectRegistry, type EffectRegistry } from "@stripe-webhooks/testing/effect-registry";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { recordingLogger } from "@stripe-webhooks/testing/recording-logger";
import { startStripeApiDouble, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { buildEvent, newEventId, newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";

/*
 * Accepting an event for queued processing (enqueueEvent), on both DynamoDB engines: what is
 * sent, what is recorded, and what is answered from the ledger without a send; then the
 * reconciler of a queued stage, which hands what it recovers to the same path instead of running
 * handlers itself. The queue is a recording sender here; the consumer side is proven in
 * test/queue/consumer.test.ts.
 */

const apiKey = `sk_test_${randomBytes(12).toString("hex")}`;
const secret = newWebhookSecret();
const endpointId = "we_1EnqueueTestEndpoint";
// Near the real time: DynamoDB Local enforces TTL, so items dated in the past would vanish.
const startMs = Math.floor(Date.now() / 1000) * 1000;

interface RecordingQueue extends QueueSender {
  sent: EncodedQueueMessage[];
  /** Sends to refuse before accepting again. */
  refuse: number;
}

function recordingQueue(): RecordingQueue {
  const queue: RecordingQueue = {
    sent: [],
    refuse: 0,
    async send(message) {
      if (queue.refuse > 0) {
        queue.refuse -= 1;
        throw Object.assign(new Error("The queue is throttled"), { name: "ThrottlingException" });
      }
      queue.sent.push(message);
    },
  };
  return queue;
}

function eventAbout(customer: string, type = "invoice.paid", overrides: { livemode?: boolean; id?: string } = {}): Stripe.Event {
  return buildEvent(type, {
    id: overrides.id ?? newEventId(),
    created: Math.floor(startMs / 1000) - 3_600,
    livemode: overrides.livemode ?? false,
    object: { customer },
  }) as unknown as Stripe.Event;
}

function factsOf(event: Stripe.Event): LedgerEvent {
  return { id: event.id, type: event.type, livemode: event.livemode, apiVersion: event.api_version, created: event.created };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error,
  );
}

describeEachEngine("enqueueing", (engine) => {
  let client: DynamoDBClient;
  let tableName: string;
  let ledger: Ledger;
  let queue: RecordingQueue;
  const clock = { ms: startMs };

  beforeAll(async () => {
    client = engine().client();
  });
  afterAll(() => client.destroy());

  async function fresh(): Promise<void> {
    tableName = await engine().createLedgerTable();
    ledger = createLedger(client, tableName, { now: () => clock.ms });
    queue = recordingQueue();
  }

  const enqueue = (event: Stripe.Event) => enqueueEvent(event, { mode: "test", ledger, queue });
  const entry = (id: string) => ledgerReader(client, tableName).get(id);

  describe("a new event", () => {
    it("is sent once, grouped by its customer and deduplicated by its id, then recorded queued without an attempt", async () => {
      await fresh();
      const event = eventAbout("cus_enqueueNew");

      const outcome = await enqueue(event);

      expect(outcome).toEqual({ kind: "queued", attempts: 0 });
      expect(queue.sent).toHaveLength(1);
      expect(queue.sent[0]?.input).toMatchObject({ MessageGroupId: "cus_enqueueNew", MessageDeduplicationId: event.id });
      expect(queue.sent[0]?.kind).toBe("event");
      expect(await entry(event.id)).toMatchObject({
        status: "queued",
        attempts: 0,
        queuedAt: new Date(clock.ms).toISOString(),
        type: "invoice.paid",
      });
    });

    it("records a type outside the catalog as ignored, sending nothing", async () => {
      await fresh();
      const event = eventAbout("cus_enqueueIgnored", "customer.created");

      expect(await enqueue(event)).toEqual({ kind: "ignored", attempts: 1 });

      expect(queue.sent).toEqual([]);
      expect((await entry(event.id))?.status).toBe("ignored");
    });
  });

  describe("bad input", () => {
    it("refuses an event of the other mode, sending and recording nothing", async () => {
      await fresh();
      const event = eventAbout("cus_enqueueLive", "invoice.paid", { livemode: true });

      expect(await failure(enqueue(event))).toBeInstanceOf(LivemodeMismatchError);

      expect(queue.sent).toEqual([]);
      expect(await entry(event.id)).toBeUndefined();
    });

    it("refuses an envelope whose id could address another kind of ledger item, sending and recording nothing", async () => {
      await fresh();
      const event = { ...eventAbout("cus_enqueueMalformed"), id: "reconciler#local" } as Stripe.Event;

      expect(await failure(enqueue(event))).toBeInstanceOf(MalformedEventError);

      expect(queue.sent).toEqual([]);
      expect(await entry("reconciler#local")).toBeUndefined();
    });
  });

  describe("an event the ledger already holds", () => {
    // How each status comes about, through the ledger's own verbs.
    const holders: Record<string, (event: Stripe.Event) => Promise<unknown>> = {
      queued: (event) => enqueue(event),
      processing: (event) => ledger.claim(factsOf(event)),
      processed: async (event) => {
        const claim = await ledger.claim(factsOf(event));
        if (claim.kind !== "claimed") throw new Error("expected a claim");
        await ledger.complete(claim.entry, "done");
      },
      ignored: (event) => ledger.recordIgnored(factsOf(event)),
    };

    for (const [status, hold] of Object.entries(holders)) {
      it(`answers a ${status} event as a duplicate from the ledger, sending nothing and changing nothing`, async () => {
        await fresh();
        const event = eventAbout(`cus_held${status}`);
        await hold(event);
        const sentBefore = queue.sent.length;
        const before = await entry(event.id);
        clock.ms += 60_000;

        const outcome = await enqueue(event);

        expect(outcome).toMatchObject({ kind: "duplicate", status });
        expect(queue.sent).toHaveLength(sentBefore);
        expect(await entry(event.id)).toEqual(before);
      });
    }

    it("sends a failed event again and records it queued, keeping its attempts", async () => {
      await fresh();
      const event = eventAbout("cus_heldFailed");
      const claim = await ledger.claim(factsOf(event));
      if (claim.kind !== "claimed") throw new Error("expected a claim");
      await ledger.fail(claim.entry, "the handler failed");

      const outcome = await enqueue(event);

      expect(outcome).toEqual({ kind: "queued", attempts: 1 });
      expect(queue.sent.map((message) => message.input.MessageDeduplicationId)).toEqual([event.id]);
      expect(await entry(event.id)).toMatchObject({ status: "queued", attempts: 1, lastError: "the handler failed" });
    });
  });

  describe("a queue that refuses the send", () => {
    it("throws QueueUnavailableError with nothing recorded and no payload in its summary; the next try sends and records", async () => {
      await fresh();
      const event = eventAbout("cus_refused");
      queue.refuse = 1;

      const error = await failure(enqueue(event));

      expect(error).toBeInstanceOf(QueueUnavailableError);
      expect(await entry(event.id)).toBeUndefined();
      expect(errorSummary(error)).not.toContain("cus_refused");
      expect(await enqueue(event)).toEqual({ kind: "queued", attempts: 0 });
      expect(queue.sent).toHaveLength(1);
    });
  });
});

describeEachEngine("the reconciler of a queued stage", (engine) => {
  let client: DynamoDBClient;
  const doubles: StripeApiDouble[] = [];

  beforeAll(() => {
    client = engine().client();
  });
  afterEach(async () => {
    await Promise.all(doubles.splice(0).map((double) => double.close()));
  });
  afterAll(() => client.destroy());

  interface Stage {
    app: WebhookApp;
    queue: RecordingQueue;
    handlers: EffectRegistry;
    double: StripeApiDouble;
    tableName: string;
    run(): Promise<ReconcileReport>;
    add(customer: string): Stripe.Event;
  }

  async function stage(): Promise<Stage> {
    const tableName = await engine().createLedgerTable();
    const now = () => startMs;
    const double = await startStripeApiDouble({ apiKeys: [apiKey], now });
    doubles.push(double);
    double.setEndpoint({ id: endpointId, status: "enabled", created: Math.floor(startMs / 1000) - 10 * 86_400 });
    const queue = recordingQueue();
    const handlers = effectRegistry();
    const { logger } = recordingLogger();
    const app = createWebhookApp({
      dynamo: client,
      settings: () => ({ webhookSecret: secret, tableName, mode: "test", processing: "queued", stripeApiKey: apiKey, stripeApiBase: double.url }),
      registry: handlers.registry,
      logger,
      now,
      queue,
    });
    const stripe = createStripeClient({ apiKey, apiBase: double.url, timeoutMs: 5_000 });
    return {
      app,
      queue,
      handlers,
      double,
      tableName,
      run: () => reconcile({ stripe, app, logger, endpointId, now }),
      add(customer) {
        const event = eventAbout(customer);
        // Stripe gave up on its deliveries: the reconciler's second sweep looks for these too.
        double.addEvent(event as unknown as Record<string, unknown>, { delivered: false });
        return event;
      },
    };
  }

  it("enqueues the events the ledger misses and counts them recovered, leaving queued and settled ones alone and running no handler", async () => {
    const s = await stage();
    const missing = [s.add("cus_reconcileA"), s.add("cus_reconcileB")];
    const alreadyQueued = s.add("cus_reconcileQueued");
    const settled = s.add("cus_reconcileSettled");
    expect((await s.app.acceptEvent(alreadyQueued, "reconciler")).ok).toBe(true);
    expect((await s.app.processEvent(settled, "queue")).ok).toBe(true);
    s.queue.sent.length = 0;
    const ranBefore = s.handlers.started(settled.id);

    const report = await s.run();

    expect(report).toMatchObject({ recovered: 2, settled: 1, inProgress: 1, failed: 0, stoppedBy: undefined });
    expect(s.queue.sent.map((message) => message.input.MessageDeduplicationId).sort()).toEqual(missing.map((event) => event.id).sort());
    for (const event of missing) {
      expect((await ledgerReader(client, s.tableName).get(event.id))?.status).toBe("queued");
      expect(s.handlers.started(event.id)).toBe(0);
    }
    expect(s.handlers.started(settled.id)).toBe(ranBefore);

    // A second run finds everything queued or settled: nothing is sent twice.
    const again = await s.run();
    expect(again).toMatchObject({ recovered: 0, inProgress: 3, settled: 1 });
    expect(s.queue.sent).toHaveLength(2);
  });

  it("leaves an event the consumer failed to the queue's retries and dead-letter queue, sending no copy", async () => {
    const s = await stage();
    const failing = s.add("cus_reconcileFailed");
    expect((await s.app.acceptEvent(failing, "reconciler")).ok).toBe(true);
    s.handlers.fail();
    expect((await s.app.processEvent(failing, "queue")).ok).toBe(false);
    s.queue.sent.length = 0;

    const report = await s.run();

    expect(report).toMatchObject({ recovered: 0, failed: 1 });
    expect(s.queue.sent).toEqual([]);
    expect((await ledgerReader(client, s.tableName).get(failing.id))?.status).toBe("failed");
  });
  it("stops a run whose send the queue refuses, with a report and nothing recorded; the next run sends it", async () => {
    const s = await stage();
    const missing = s.add("cus_reconcileRefused");
    s.queue.refuse = 1;

    const report = await s.run();

    expect(report).toMatchObject({ recovered: 0, stoppedBy: "queue-unavailable" });
    expect(await ledgerReader(client, s.tableName).get(missing.id)).toBeUndefined();
    const next = await s.run();
    expect(next).toMatchObject({ recovered: 1, stoppedBy: undefined });
    expect((await ledgerReader(client, s.tableName).get(missing.id))?.status).toBe("queued");
  });
});
