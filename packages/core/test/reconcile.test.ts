import { randomBytes } from "node:crypto";
import { ScanCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type Stripe from "stripe";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { recordingLogger, type LogLine } from "@stripe-webhooks/testing/recording-logger";
import { createWebhookApp, type WebhookApp } from "../src/app.ts";
import { eventCatalog } from "../src/catalog.ts";
import { StripeMisconfiguredError, StripeRequestRefusedError, errorSummary } from "../src/errors.ts";
import type { LedgerEntry } from "../src/ledger.ts";
import { ledgerTable } from "../src/ledger-table.ts";
import {
  reconcile,
  stripeEventHorizonSeconds,
  type ReconcileReport,
  type ReconcileSettings,
  type ReconcilerRun,
  type ReconcilerState,
} from "../src/reconcile.ts";
import { reconcilerStateKey } from "../src/reconcile-state.ts";
import { replayEvent } from "../src/replay.ts";
import { createStripeClient, type StripeClientOptions } from "../src/stripe-api.ts";
import { effectRegistry, type EffectRegistry } from "@stripe-webhooks/testing/effect-registry";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { FigureBook } from "../../../test/reliability/support/figures.ts";
import { randomInt, seededRandom, shuffle } from "@stripe-webhooks/testing/random";
import {
  startStripeApiDouble,
  type StripeApiDouble,
  type StripeApiFault,
  type StripeObject,
} from "@stripe-webhooks/testing/stripe-api-double";
import { buildEvent, newEventId, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";

/*
 * The reconciler and replay against both DynamoDB engines, with the real `stripe` SDK talking to
 * the test kit's double of Stripe's API. Every scenario has its own ledger table, double and
 * clock; the clock is injected everywhere (app, reconciler, double), so days pass in a test
 * without waiting and nothing depends on the machine's time beyond where the clock starts.
 */

const apiKey = `sk_test_${randomBytes(12).toString("hex")}`;
// A restricted key that may read the endpoint but not events: a key missing a permission.
const endpointOnlyKey = `rk_test_${randomBytes(12).toString("hex")}`;
const secret = newWebhookSecret();
const endpointId = "we_1ReconcileTestEndpoint";
const day = 86_400;
const hour = 3_600;

// Near the real time: DynamoDB Local enforces TTL, so items dated in the past would vanish.
const startMs = Math.floor(Date.now() / 1000) * 1000;


/** An event as the double holds it, with what the tests need of it. */
interface TestEvent {
  id: string;
  created: number;
  body: StripeObject;
}

interface RunOptions {
  settings?: Partial<ReconcileSettings>;
  stripe?: Stripe;
  endpointId?: string | undefined;
}

interface Scenario {
  clock: { ms: number };
  nowSeconds(): number;
  tableName: string;
  double: StripeApiDouble;
  handlers: EffectRegistry;
  lines: LogLine[];
  app: WebhookApp;
  stripe: Stripe;
  client(options?: Partial<StripeClientOptions>): Stripe;
  /** Adds an event to the double; `delivered` is Stripe's `delivery_success` for it (default true). */
  addEvent(created: number, options?: { delivered?: boolean }): TestEvent;
  /** One webhook delivery through the app, signed now; returns the HTTP status. */
  deliver(event: TestEvent): Promise<number>;
  run(options?: RunOptions): Promise<ReconcileReport>;
  entry(id: string): Promise<LedgerEntry | undefined>;
  state(): Promise<ReconcilerState | undefined>;
  /** Every item of the ledger table by key, each as JSON, for before/after comparisons. */
  snapshot(): Promise<Map<string, string>>;
  /** Ids the reconciler logged as processed, with how often. */
  reconcilerProcessed(id: string): number;
}

// RELIABILITY.md's figures for the "nothing lost" scenarios (npm run reliability renders them).
const book = new FigureBook("reconciler");
afterAll(() => book.write());

describeEachEngine("reconciler", (engine) => {
  let client: DynamoDBClient;
  const doubles: StripeApiDouble[] = [];

  beforeAll(() => {
    client = engine().client();
    book.ranOn(engine().name);
  });

  afterEach(async () => {
    await Promise.all(doubles.splice(0).map((double) => double.close()));
  });

  afterAll(() => client.destroy());

  async function scenario(options: { leaseSeconds?: number } = {}): Promise<Scenario> {
    const tableName = await engine().createLedgerTable();
    const clock = { ms: startMs };
    const now = () => clock.ms;
    const double = await startStripeApiDouble({
      apiKeys: [apiKey, { key: endpointOnlyKey, canRead: ["webhook_endpoints"] }],
      now,
    });
    doubles.push(double);
    // Older than Stripe's horizon, so the horizon bounds the window unless a test says otherwise.
    double.setEndpoint({ id: endpointId, status: "enabled", created: Math.floor(startMs / 1000) - 60 * day });
    const handlers = effectRegistry();
    const { logger, lines } = recordingLogger();
    const app = createWebhookApp({
      dynamo: client,
      settings: () => ({ webhookSecret: secret, tableName, mode: "test" }),
      registry: handlers.registry,
      logger,
      now,
      ...(options.leaseSeconds === undefined ? {} : { ledger: { leaseSeconds: options.leaseSeconds } }),
    });
    // Short timeouts keep a broken double from stalling the suite; they are guards, not assertions.
    const newClient = (overrides: Partial<StripeClientOptions> = {}) =>
      createStripeClient({ apiKey, apiBase: double.url, timeoutMs: 5_000, ...overrides });
    const stripe = newClient();
    let typeIndex = 0;

    return {
      clock,
      nowSeconds: () => Math.floor(clock.ms / 1000),
      tableName,
      double,
      handlers,
      lines,
      app,
      stripe,
      client: newClient,
      addEvent(created, eventOptions = {}) {
        const type = eventCatalog[typeIndex % eventCatalog.length] ?? "invoice.paid";
        typeIndex += 1;
        const body = buildEvent(type, { id: newEventId(), created });
        double.addEvent(body, { delivered: eventOptions.delivered ?? true });
        return { id: String(body.id), created, body };
      },
      async deliver(event) {
        const payload = JSON.stringify(event.body);
        const response = await app.handleWebhook({
          method: "POST",
          headers: {
            "content-type": "application/json",
            "stripe-signature": signPayload(payload, secret, Math.floor(clock.ms / 1000)),
          },
          body: payload,
          isBase64Encoded: false,
        });
        return response.statusCode;
      },
      run(runOptions = {}) {
        return reconcile({
          stripe: runOptions.stripe ?? stripe,
          app,
          logger,
          endpointId: "endpointId" in runOptions ? runOptions.endpointId : endpointId,
          now,
          ...(runOptions.settings ? { settings: runOptions.settings } : {}),
        });
      },
      entry: (id) => ledgerReader(client, tableName).get(id),
      state: () => app.stage().reconcilerState<ReconcilerRun>(endpointId).read(),
      snapshot: () => snapshotTable(client, tableName),
      reconcilerProcessed: (id) =>
        lines.filter(
          (line) =>
            line.attributes.eventId === id && line.attributes.source === "reconciler" && line.attributes.outcome === "processed",
        ).length,
    };
  }

  describe("a handler failing for longer than Stripe's retry window, then fixed", () => {
    it("processes every event exactly once through the reconciler, loses none, and leaves events inside the grace period alone", async () => {
      const s = await scenario();
      const start = s.nowSeconds();
      s.handlers.fail();
      const events: TestEvent[] = [];

      // Four days of events, one every 6 hours; every webhook delivery fails, Stripe retries for
      // three days and gives up (delivery_success=false). The reconciler runs twice a day meanwhile.
      for (let at = 0; at < 4 * day; at += 6 * hour) {
        s.clock.ms = (start + at) * 1000;
        // Stripe's retries of the earlier events, for three days after each one's creation.
        for (const earlier of events) {
          if (start + at - earlier.created < 3 * day) expect(await s.deliver(earlier)).toBe(500);
        }
        const event = s.addEvent(start + at, { delivered: false });
        events.push(event);
        expect(await s.deliver(event)).toBe(500);
        if (at % (12 * hour) === 0) {
          const report = await s.run();
          expect(report.recovered).toBe(0);
          expect(report.stoppedBy).toBeUndefined();
          // Only what is older than the grace period: not the event delivered this instant.
          expect(report.failed).toBe(events.length - 1);
        }
      }
      const duringOutage = await s.entry(events[0]?.id ?? "");
      expect(duringOutage).toMatchObject({ status: "failed" });
      expect(duringOutage?.attempts).toBeGreaterThan(1);

      // The fix is deployed on day 5. An event created a minute ago, which the webhook has not
      // managed to deliver yet, is the webhook's to handle: the reconciler must not touch it.
      s.handlers.succeed();
      s.clock.ms = (start + 5 * day) * 1000;
      const young = s.addEvent(s.nowSeconds() - 60, { delivered: false });
      const report = await s.run();

      expect(report).toMatchObject({ recovered: events.length, failed: 0, inProgress: 0, stoppedBy: undefined });
      expect(report.window.to).toBe(s.nowSeconds() - 300);
      for (const event of events) {
        expect(s.handlers.effects(event.id)).toBe(1);
        expect(s.reconcilerProcessed(event.id)).toBe(1);
        expect((await s.entry(event.id))?.status).toBe("processed");
      }
      expect(await s.entry(young.id)).toBeUndefined();
      expect(s.handlers.started(young.id)).toBe(0);

      // Once past the grace period it is the reconciler's, and the rest stays done.
      s.clock.ms += 301_000;
      const later = await s.run();
      expect(later).toMatchObject({ recovered: 1, failed: 0 });
      expect(s.handlers.effects(young.id)).toBe(1);
      expect([...s.handlers.effectCounts.values()].every((count) => count === 1)).toBe(true);
      expect(s.handlers.effectCounts.size).toBe(events.length + 1);
      book.add("outage events", events.length + 1);
      book.add("events lost", [...events, young].filter((event) => s.handlers.effects(event.id) === 0).length);
      book.add("double-processed", [...s.handlers.effectCounts.values()].filter((count) => count > 1).length);
    });
  });

  describe("deliveries and reconciler runs racing", () => {
    it(
      "1,000 events, duplicated, shuffled, concurrent deliveries and overlapping runs: each side effect once, none lost",
      async () => {
        const s = await scenario();
        const random = seededRandom(20_261_101);
        const now = s.nowSeconds();
        type Fate = "webhook" | "stripe-gave-up" | "wrong-origin";
        const events: { event: TestEvent; fate: Fate }[] = [];
        const deliveries: TestEvent[] = [];
        for (let index = 0; index < 1000; index += 1) {
          const roll = random();
          const fate: Fate = roll < 0.6 ? "webhook" : roll < 0.8 ? "stripe-gave-up" : "wrong-origin";
          // Older than the grace period, so every run may take any of them.
          const created = now - 301 - randomInt(random, 2 * day);
          // Until a delivery succeeds Stripe lists a webhook event as undelivered too, so runs
          // and deliveries contend for the same events.
          const event = s.addEvent(created, { delivered: fate === "wrong-origin" });
          events.push({ event, fate });
          if (fate === "webhook") for (let copy = randomInt(random, 3); copy >= 0; copy -= 1) deliveries.push(event);
        }
        type Task = { kind: "deliver"; event: TestEvent } | { kind: "reconcile" };
        const tasks: Task[] = shuffle(random, deliveries).map((event) => ({ kind: "deliver", event }));
        for (let run = 0; run < 2; run += 1) tasks.splice(randomInt(random, tasks.length), 0, { kind: "reconcile" });

        const statuses = new Map<number, number>();
        const reports: ReconcileReport[] = [];
        const settings = { maxEvents: 5_000, maxDurationMs: 3_600_000 };
        let next = 0;
        const worker = async () => {
          for (let task = tasks[next++]; task !== undefined; task = tasks[next++]) {
            if (task.kind === "reconcile") {
              reports.push(await s.run({ settings }));
              continue;
            }
            const status = await s.deliver(task.event);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status === 200) s.double.setDelivered(task.event.id, true);
          }
        };
        // One run from the start, alongside the delivery workers; two more start among the deliveries.
        await Promise.all([
          s.run({ settings }).then((report) => reports.push(report)),
          ...Array.from({ length: 6 }, worker),
        ]);

        expect(reports).toHaveLength(3);
        expect(reports.every((report) => report.stoppedBy === undefined && report.failed === 0)).toBe(true);
        // Every delivery was acknowledged, or answered 409 while a run held its event.
        expect([...statuses.keys()].every((status) => status === 200 || status === 409)).toBe(true);
        const ids = events.map(({ event }) => event.id);
        const doubled = ids.filter((id) => s.handlers.effects(id) > 1);
        const lost = ids.filter((id) => s.handlers.effects(id) === 0);
        book.add("race events", ids.length);
        book.add("race deliveries", deliveries.length);
        book.add("events lost", lost.length);
        book.add("double-processed", doubled.length);
        expect(doubled).toEqual([]);
        expect(lost).toEqual([]);
        const ledger = await ledgerReader(client, s.tableName).list();
        expect(ledger).toHaveLength(1000);
        expect(ledger.filter((entry) => entry.status !== "processed" || entry.attempts !== 1)).toEqual([]);
        const recovered = reports.reduce((sum, report) => sum + report.recovered, 0);
        book.add("race events recovered by the reconciler", recovered);
        const viaWebhook = s.lines.filter(
          (line) => line.attributes.source === "webhook" && line.attributes.outcome === "processed",
        ).length;
        expect(recovered + viaWebhook).toBe(1000);
        // Whatever was never sent to the app can only have been the reconciler's.
        const byReconciler = new Set(
          s.lines
            .filter((line) => line.attributes.source === "reconciler" && line.attributes.outcome === "processed")
            .map((line) => line.attributes.eventId),
        );
        const neverSent = events.filter(({ fate }) => fate !== "webhook").map(({ event }) => event.id);
        expect(neverSent.filter((id) => !byReconciler.has(id))).toEqual([]);

        // A quiet run afterwards finds nothing left to do.
        const quiet = await s.run({ settings });
        expect(quiet).toMatchObject({ recovered: 0, failed: 0, inProgress: 0, stoppedBy: undefined });
        expect(quiet.settled).toBe(quiet.examined);
      },
      180_000,
    );
  });

  describe("events a wrong origin answered 2xx (Stripe counts them delivered; the handler never saw them)", () => {
    it("the sweep recovers them and skips the ones the webhook did process", async () => {
      const s = await scenario();
      const now = s.nowSeconds();
      const handled = [s.addEvent(now - 2 * hour), s.addEvent(now - hour)];
      for (const event of handled) expect(await s.deliver(event)).toBe(200);
      const missed = [s.addEvent(now - 3 * hour), s.addEvent(now - 90 * 60), s.addEvent(now - 1_000)];

      const report = await s.run();

      expect(report).toMatchObject({ examined: 5, recovered: 3, settled: 2, failed: 0, stoppedBy: undefined });
      for (const event of missed) {
        expect(s.handlers.effects(event.id)).toBe(1);
        expect(await s.entry(event.id)).toMatchObject({ status: "processed", attempts: 1 });
      }
      for (const event of handled) expect(s.handlers.effects(event.id)).toBe(1);
    });

    it("one whose handler fails is tried again by later runs, although later runs sweep from the watermark on", async () => {
      const s = await scenario();
      const start = s.nowSeconds();
      const missed = s.addEvent(start - 2 * hour);
      s.handlers.fail((event) => event.id === missed.id);

      const first = await s.run();
      expect(first).toMatchObject({ failed: 1, recovered: 0, stoppedBy: undefined });

      // Days of runs while it keeps failing, with other events coming and going.
      for (let runDay = 1; runDay <= 3; runDay += 1) {
        s.clock.ms = (start + runDay * day) * 1000;
        s.addEvent(s.nowSeconds() - hour);
        const report = await s.run();
        expect(report).toMatchObject({ failed: 1, recovered: 1 });
      }
      expect(s.handlers.started(missed.id)).toBe(4);

      s.handlers.succeed();
      s.clock.ms += day * 1000;
      const fixed = await s.run();
      expect(fixed.recovered).toBe(1);
      expect(s.handlers.effects(missed.id)).toBe(1);
      expect((await s.entry(missed.id))?.status).toBe("processed");

      // Settled now, so the watermark moves on past it.
      const after = await s.run();
      expect(after).toMatchObject({ recovered: 0, failed: 0 });
      expect(after.watermark).toBe(s.nowSeconds() - 300);
      expect(after.window.from).toBeGreaterThan(missed.created);
    });

    it("one a replay holds while a run completes is not passed by the watermark, so the replay's failure is retried", async () => {
      const s = await scenario();
      const held = s.addEvent(s.nowSeconds() - 2 * hour);
      let holding!: () => void;
      const holds = new Promise<void>((resolve) => (holding = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      // A replay writes no reconciler state, so nothing but the run's own watermark can keep
      // the event within reach of later sweeps.
      s.handlers.onRun(async (event) => {
        if (event.id !== held.id) return;
        holding();
        await released;
        throw new Error("the replayed run fails");
      });
      const replay = replayEvent({ stripe: s.stripe, app: s.app }, held.id);
      await holds;

      const run = await s.run();
      release();

      expect(run).toMatchObject({ examined: 1, inProgress: 1, recovered: 0, stoppedBy: undefined });
      expect(await replay).toMatchObject({ kind: "ran", result: { ok: false } });
      expect((await s.entry(held.id))?.status).toBe("failed");
      expect(run.watermark).toBeLessThanOrEqual(held.created);

      s.handlers.onRun(undefined);
      s.clock.ms += day * 1000;
      const later = await s.run();
      expect(later.recovered).toBe(1);
      expect(s.handlers.effects(held.id)).toBe(1);
    });
  });

  describe("Stripe's API failing mid-sweep", () => {
    const faults: { fault: StripeApiFault; client: Partial<StripeClientOptions> }[] = [
      // The SDK does not retry a plain rate limit, whatever its retry setting.
      { fault: "rate-limit", client: {} },
      // Long enough that a loaded machine answers every other request within it.
      { fault: "hang", client: { timeoutMs: 1_000, maxNetworkRetries: 0 } },
      { fault: "api-error", client: { maxNetworkRetries: 0 } },
    ];

    it.each(faults)(
      "$fault: the run stops as stripe-unavailable, keeps the watermark, writes only what it processed; the next run resumes",
      async ({ fault, client: clientOptions }) => {
        const s = await scenario();
        const stripe = s.client(clientOptions);
        const start = s.nowSeconds();
        const earlier = [1, 2, 3].map((n) => s.addEvent(start - n * hour));
        expect(await s.run()).toMatchObject({ recovered: 3, stoppedBy: undefined });
        const watermark = (await s.state())?.watermark;
        expect(watermark).toBe(start - 300);

        s.clock.ms += day * 1000;
        const now = s.nowSeconds();
        // 150 events a second apart: the first page (100, newest first) is processed, then the
        // second page's request fails.
        const missed = Array.from({ length: 150 }, (_, index) => s.addEvent(now - 1_000 - index, { delivered: false }));
        const firstPage = new Set(missed.slice(0, 100).map((event) => event.id));
        let injected = false;
        s.handlers.onRun(() => {
          if (injected) return;
          injected = true;
          s.double.failNext({ fault, path: "/v1/events" });
        });
        const before = await s.snapshot();

        const interrupted = await s.run({ stripe });

        expect(interrupted).toMatchObject({ stoppedBy: "stripe-unavailable", recovered: 100, failed: 0, watermark });
        const after = await s.snapshot();
        const stateKey = reconcilerStateKey(endpointId);
        for (const [key, item] of before) {
          if (key !== stateKey) expect(after.get(key)).toBe(item);
        }
        const added = [...after.keys()].filter((key) => !before.has(key));
        expect(new Set(added)).toEqual(firstPage);
        for (const id of firstPage) expect(await s.entry(id)).toMatchObject({ status: "processed", attempts: 1 });
        expect((await s.state())?.watermark).toBe(watermark);
        expect(s.lines.some((line) => line.level === "warn" && line.message.includes("back off"))).toBe(true);

        s.handlers.onRun(undefined);
        const resumed = await s.run();
        expect(resumed).toMatchObject({ stoppedBy: undefined, recovered: 50, settled: 100, failed: 0 });
        expect(resumed.watermark).toBe(now - 300);
        for (const event of [...earlier, ...missed]) expect(s.handlers.effects(event.id)).toBe(1);
      },
    );

    it("a run cut short after an overlapping run advanced the watermark leaves the newer watermark", async () => {
      // Prepare: a first complete run, then a day of undelivered events, two pages' worth.
      const s = await scenario();
      s.addEvent(s.nowSeconds() - hour);
      expect(await s.run()).toMatchObject({ stoppedBy: undefined });
      const older = (await s.state())?.watermark;
      s.clock.ms += day * 1000;
      const now = s.nowSeconds();
      Array.from({ length: 150 }, (_, index) => s.addEvent(now - 1_000 - index, { delivered: false }));
      // While the slow run handles its first event, another run completes; then Stripe rate-limits
      // the slow run's next page.
      let overlapping: ReconcileReport | undefined;
      let overlapped = false;
      s.handlers.onRun(async () => {
        if (overlapped) return;
        overlapped = true;
        overlapping = await s.run();
        s.double.failNext({ fault: "rate-limit", path: "/v1/events" });
      });

      // Act
      const slow = await s.run();

      // Assess
      expect(overlapping).toMatchObject({ stoppedBy: undefined, failed: 0 });
      const newer = overlapping?.watermark ?? Number.NaN;
      expect(newer).toBeGreaterThan(older ?? Number.POSITIVE_INFINITY);
      expect(slow.stoppedBy).toBe("stripe-unavailable");
      expect((await s.state())?.watermark).toBe(newer);
      expect((await s.state())?.lastRun?.stoppedBy).toBe("stripe-unavailable");
    });

    it("a complete run that ends after an overlapping run advanced the watermark further leaves the newer one", async () => {
      // Prepare: one missed event; the slow run's handler stalls past its lease, and the next
      // run takes the event over and completes meanwhile.
      const s = await scenario({ leaseSeconds: 60 });
      s.addEvent(s.nowSeconds() - 2 * hour, { delivered: false });
      let overlapping: ReconcileReport | undefined;
      let overlapped = false;
      s.handlers.onRun(async () => {
        if (overlapped) return;
        overlapped = true;
        s.clock.ms += day * 1000;
        overlapping = await s.run();
      });

      // Act: the slow run's own bound must not end it; its commit then finds the lease lost.
      const slow = await s.run({ settings: { maxDurationMs: 2 * day * 1000 } });

      // Assess
      expect(overlapping).toMatchObject({ stoppedBy: undefined, recovered: 1 });
      expect(slow).toMatchObject({ stoppedBy: undefined, recovered: 0, inProgress: 1 });
      const newer = overlapping?.watermark ?? Number.NaN;
      expect(slow.watermark).toBeLessThan(newer);
      const state = await s.state();
      expect(state?.watermark).toBe(newer);
      expect(state?.lastRun?.inProgress).toBe(1);
      expect(state?.lastRun?.stoppedBy).toBeUndefined();
    });

    it("a lock timeout (429 that Stripe marks retryable) is retried by the SDK and the run completes", async () => {
      const s = await scenario();
      const now = s.nowSeconds();
      const missed = Array.from({ length: 120 }, (_, index) => s.addEvent(now - 1_000 - index, { delivered: false }));
      let injected = false;
      s.handlers.onRun(() => {
        if (injected) return;
        injected = true;
        s.double.failNext({ fault: "lock-timeout", path: "/v1/events" });
      });

      const report = await s.run();

      expect(report).toMatchObject({ stoppedBy: undefined, recovered: 120 });
      expect(s.double.requests.some((request) => request.answer === 429)).toBe(true);
      for (const event of missed) expect(s.handlers.effects(event.id)).toBe(1);
    });

    it("a rate limit on the endpoint read stops the run before any listing, as stripe-unavailable", async () => {
      const s = await scenario();
      const missed = s.addEvent(s.nowSeconds() - hour, { delivered: false });
      s.double.failNext({ fault: "rate-limit", path: `/v1/webhook_endpoints/${endpointId}` });

      const report = await s.run();

      expect(report).toMatchObject({ stoppedBy: "stripe-unavailable", examined: 0, endpoint: undefined, watermark: undefined });
      expect(s.double.requestCount("/v1/events")).toBe(0);
      expect(await s.entry(missed.id)).toBeUndefined();
      expect((await s.state())?.watermark).toBeUndefined();

      expect(await s.run()).toMatchObject({ stoppedBy: undefined, recovered: 1 });
    });
  });

  describe("a key Stripe refuses", () => {
    const cases: { name: string; key: () => string; endpoint: string | undefined }[] = [
      { name: "an unknown key, on the endpoint read", key: () => `sk_test_${randomBytes(12).toString("hex")}`, endpoint: endpointId },
      { name: "an unknown key, on the listing (no endpoint)", key: () => `sk_test_${randomBytes(12).toString("hex")}`, endpoint: undefined },
      { name: "a restricted key without Events read", key: () => endpointOnlyKey, endpoint: endpointId },
    ];

    it.each(cases)("$name: throws StripeMisconfiguredError and writes nothing to the ledger", async ({ key, endpoint }) => {
      const s = await scenario();
      // A ledger with history, so "nothing written" covers the state item too.
      s.addEvent(s.nowSeconds() - 2 * hour);
      await s.run({ endpointId: endpoint });
      s.addEvent(s.nowSeconds() - hour, { delivered: false });
      s.clock.ms += hour * 1000;
      const before = await s.snapshot();
      const badKey = key();
      const stripe = s.client({ apiKey: badKey });

      const error = await s.run({ stripe, endpointId: endpoint }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );

      expect(error).toBeInstanceOf(StripeMisconfiguredError);
      expect(errorSummary(error)).not.toContain(badKey);
      expect(await s.snapshot()).toEqual(before);
    });
  });

  describe("the endpoint", () => {
    it("disabled by Stripe: the report says so, an error line is logged, and missed events are still recovered", async () => {
      const s = await scenario();
      const created = s.nowSeconds() - 10 * day;
      s.double.setEndpoint({ id: endpointId, status: "disabled", created });
      const missed = [s.addEvent(s.nowSeconds() - hour, { delivered: false }), s.addEvent(s.nowSeconds() - 2 * hour)];

      const report = await s.run();

      expect(report.endpoint).toEqual({ id: endpointId, status: "disabled", created });
      expect(report.recovered).toBe(2);
      const errors = s.lines.filter((line) => line.level === "error");
      expect(errors).toHaveLength(1);
      expect(errors[0]?.message).toMatch(/disabled/);
      expect(errors[0]?.attributes.endpointId).toBe(endpointId);
      for (const event of missed) expect(s.handlers.effects(event.id)).toBe(1);
    });

    it("enabled: reported as such, no error logged", async () => {
      const s = await scenario();
      const report = await s.run();
      expect(report.endpoint).toMatchObject({ id: endpointId, status: "enabled" });
      expect(s.lines.filter((line) => line.level === "error")).toEqual([]);
    });
  });

  describe("bounds", () => {
    it("maxEvents stops the run (max-events) and keeps the watermark; the next runs continue until one completes", async () => {
      const s = await scenario();
      const now = s.nowSeconds();
      const missed = Array.from({ length: 25 }, (_, index) => s.addEvent(now - hour - index * 60, { delivered: false }));
      const settings = { maxEvents: 10 };

      const first = await s.run({ settings });
      expect(first).toMatchObject({ recovered: 10, stoppedBy: "max-events", watermark: undefined });
      expect((await s.state())?.watermark).toBeUndefined();
      const second = await s.run({ settings });
      expect(second).toMatchObject({ recovered: 10, settled: 10, stoppedBy: "max-events", watermark: undefined });
      const third = await s.run({ settings });
      expect(third).toMatchObject({ recovered: 5, stoppedBy: undefined, watermark: now - 300 });
      expect((await s.state())?.watermark).toBe(now - 300);
      for (const event of missed) expect(s.handlers.effects(event.id)).toBe(1);
    });

    it("maxDurationMs stops the run by the injected clock (max-duration); the next run continues", async () => {
      const s = await scenario();
      const now = s.nowSeconds();
      const missed = Array.from({ length: 6 }, (_, index) => s.addEvent(now - hour - index, { delivered: false }));
      // Each handler run takes ten seconds of the scenario's clock.
      s.handlers.onRun(() => {
        s.clock.ms += 10_000;
      });

      const first = await s.run({ settings: { maxDurationMs: 25_000 } });
      expect(first).toMatchObject({ recovered: 3, stoppedBy: "max-duration", watermark: undefined });
      const second = await s.run({ settings: { maxDurationMs: 60_000 } });
      expect(second).toMatchObject({ recovered: 3, stoppedBy: undefined });
      for (const event of missed) expect(s.handlers.effects(event.id)).toBe(1);
    });

    it("an event in both listings (swept, and delivery_success=false) is processed once per run, failing or not", async () => {
      const s = await scenario();
      const both = s.addEvent(s.nowSeconds() - hour, { delivered: false });
      s.handlers.fail();

      const failing = await s.run();
      expect(failing).toMatchObject({ examined: 1, failed: 1 });
      expect(s.handlers.started(both.id)).toBe(1);

      s.handlers.succeed();
      s.clock.ms += hour * 1000;
      const fixed = await s.run();
      expect(fixed).toMatchObject({ examined: 1, recovered: 1 });
      expect(s.handlers.started(both.id)).toBe(2);
      expect(s.handlers.effects(both.id)).toBe(1);
    });

    it("events created before the endpoint are not touched", async () => {
      const s = await scenario();
      const endpointCreated = s.nowSeconds() - 2 * day;
      s.double.setEndpoint({ id: endpointId, created: endpointCreated });
      const before = s.addEvent(endpointCreated - hour, { delivered: false });
      const after = s.addEvent(endpointCreated + hour, { delivered: false });

      const report = await s.run();

      expect(report.window.from).toBe(endpointCreated);
      expect(report).toMatchObject({ examined: 1, recovered: 1 });
      expect(await s.entry(before.id)).toBeUndefined();
      expect(s.handlers.started(before.id)).toBe(0);
      expect(s.handlers.effects(after.id)).toBe(1);
    });

    it("during an API-version upgrade, events since the draining endpoint's creation are reconciled, and its being disabled is reported", async () => {
      const s = await scenario();
      const drainingId = "we_drainingPreviousVersion";
      const newCreated = s.nowSeconds() - 1 * day;
      const oldCreated = s.nowSeconds() - 10 * day;
      s.double.setEndpoint({ id: endpointId, created: newCreated });
      s.double.setEndpoint({ id: drainingId, created: oldCreated, status: "disabled" });
      const forOldOnly = s.addEvent(newCreated - 2 * day, { delivered: false });
      const beforeBoth = s.addEvent(oldCreated - hour, { delivered: false });

      const { logger, lines } = recordingLogger();
      const report = await reconcile({ stripe: s.stripe, app: s.app, logger, endpointId, drainingEndpointId: drainingId, now: () => s.clock.ms });

      expect(report.window.from).toBe(oldCreated);
      expect(lines.filter((line) => line.level === "error").map((line) => line.attributes.endpointId)).toEqual([drainingId]);
      expect(s.handlers.effects(forOldOnly.id)).toBe(1);
      expect(await s.entry(beforeBoth.id)).toBeUndefined();
    });

    it("events outside Stripe's 30-day horizon (less a margin) are not touched, even while Stripe still lists them", async () => {
      const s = await scenario();
      const now = s.nowSeconds();
      const edge = s.addEvent(now - 30 * day + 30 * 60, { delivered: false });
      const inside = s.addEvent(now - 29 * day, { delivered: false });
      const listed = await s.stripe.events.list({ delivery_success: false, limit: 100 });
      expect(listed.data.map((event) => event.id)).toContain(edge.id);

      const report = await s.run();

      expect(report.window.from).toBe(now - stripeEventHorizonSeconds);
      expect(report).toMatchObject({ examined: 1, recovered: 1 });
      expect(await s.entry(edge.id)).toBeUndefined();
      expect(s.handlers.effects(inside.id)).toBe(1);
    });

    it("the overlap re-examines recent events without running them again, and finds those Stripe stamped late", async () => {
      const s = await scenario();
      const start = s.nowSeconds();
      const watermark = start - 300;
      const old = s.addEvent(watermark - 2_000);
      const recent = s.addEvent(watermark - 100);
      const first = await s.run();
      expect(first).toMatchObject({ recovered: 2, watermark });

      // Listed only after the first run, with a `created` before its watermark.
      const late = s.addEvent(watermark - 50);
      s.clock.ms += hour * 1000;
      const fresh = s.addEvent(s.nowSeconds() - 1_000);
      const second = await s.run();

      expect(second.window.from).toBe(watermark - 600);
      expect(second).toMatchObject({ examined: 3, settled: 1, recovered: 2, watermark: s.nowSeconds() - 300 });
      for (const event of [old, recent, late, fresh]) expect(s.handlers.effects(event.id)).toBe(1);
      expect(s.handlers.started(recent.id)).toBe(1);
      expect(s.handlers.started(old.id)).toBe(1);
    });
  });

  describe("events Stripe's API lists that are not Stripe events", () => {
    it("are skipped with a counted warning, never written, and neither stop the run nor hold its watermark", async () => {
      // Prepare: good events around ones whose envelope the webhook would refuse too.
      const s = await scenario();
      const now = s.nowSeconds();
      const good = [s.addEvent(now - 3 * hour), s.addEvent(now - hour)];
      const bad: [string, StripeObject][] = [
        ["a key of another item kind", buildEvent("invoice.paid", { id: "evt_x#reconciler", created: now - 2 * hour })],
        ["an id past DynamoDB's key limit", buildEvent("invoice.paid", { id: `evt_${"x".repeat(2996)}`, created: now - 2 * hour })],
        ["no api_version", withoutKey(buildEvent("invoice.paid", { created: now - 2 * hour }), "api_version")],
        ["a numeric account", { ...buildEvent("invoice.paid", { created: now - 2 * hour }), account: 42 }],
      ];
      for (const [, event] of bad) s.double.addEvent(event, { delivered: false });
      const before = await s.snapshot();

      // Act
      const report = await s.run();

      // Assess
      expect(report).toMatchObject({ malformed: bad.length * 2, recovered: 2, failed: 0, stoppedBy: undefined, watermark: now - 300 });
      for (const event of good) expect(s.handlers.effects(event.id)).toBe(1);
      const after = await s.snapshot();
      const written = [...after.keys()].filter((key) => !before.has(key));
      expect(written.sort()).toEqual([...good.map((event) => event.id), reconcilerStateKey(endpointId)].sort());
      const warnings = s.lines.filter((line) => line.level === "warn" && line.attributes.reason !== undefined);
      // Each listing (the sweep and the undelivered one) finds each once.
      expect(warnings).toHaveLength(bad.length * 2);
      expect(Math.max(...warnings.map((line) => JSON.stringify(line).length))).toBeLessThan(1_000);
    });

    it("a replay of one is refused as malformed_event without touching the ledger", async () => {
      const s = await scenario();
      const event = withoutKey(buildEvent("invoice.paid", { created: s.nowSeconds() - hour }), "api_version");
      s.double.addEvent(event);
      const before = await s.snapshot();

      const replay = await replayEvent({ stripe: s.stripe, app: s.app }, String(event.id));

      expect(replay).toMatchObject({ kind: "ran", result: { ok: false } });
      expect(replay.kind === "ran" && !replay.result.ok && replay.result.error).toMatchObject({ reason: "invalid-api-version" });
      expect(s.handlers.started(String(event.id))).toBe(0);
      expect(await s.snapshot()).toEqual(before);
    });
  });

  describe("replay", () => {
    it("processes a failed event", async () => {
      const s = await scenario();
      const event = s.addEvent(s.nowSeconds() - hour, { delivered: false });
      s.handlers.fail();
      expect(await s.deliver(event)).toBe(500);
      s.handlers.succeed();

      const result = await replayEvent({ stripe: s.stripe, app: s.app }, event.id);

      expect(result).toMatchObject({ kind: "ran", forced: false, result: { ok: true, outcome: { kind: "processed", attempts: 2 } } });
      expect(s.handlers.effects(event.id)).toBe(1);
      expect(await s.entry(event.id)).toMatchObject({ status: "processed", attempts: 2 });
    });

    it("processes an event the ledger has never seen", async () => {
      const s = await scenario();
      const event = s.addEvent(s.nowSeconds() - hour);

      const result = await replayEvent({ stripe: s.stripe, app: s.app }, event.id);

      expect(result).toMatchObject({ kind: "ran", forced: false, result: { ok: true, outcome: { kind: "processed" } } });
      expect(s.handlers.effects(event.id)).toBe(1);
      const logged = s.lines.filter((line) => line.attributes.eventId === event.id && line.attributes.source === "replay");
      expect(logged).toHaveLength(1);
    });

    it("refuses a processed event without force; with force runs it again and records the forced run", async () => {
      const s = await scenario();
      const event = s.addEvent(s.nowSeconds() - hour);
      expect(await s.deliver(event)).toBe(200);
      const deps = { stripe: s.stripe, app: s.app };

      const refused = await replayEvent(deps, event.id);
      expect(refused).toMatchObject({ kind: "refused", reason: "already-settled", entry: { status: "processed" } });
      expect(s.handlers.started(event.id)).toBe(1);
      expect((await s.entry(event.id))?.forcedRuns).toBeUndefined();

      s.clock.ms += 60_000;
      const forced = await replayEvent(deps, event.id, { force: true });
      expect(forced).toMatchObject({ kind: "ran", forced: true, result: { ok: true, outcome: { kind: "processed" } } });
      expect(s.handlers.effects(event.id)).toBe(2);
      expect(await s.entry(event.id)).toMatchObject({
        status: "processed",
        attempts: 2,
        forcedRuns: 1,
        lastForcedAt: new Date(s.clock.ms).toISOString(),
      });
      expect(s.lines.some((line) => line.attributes.eventId === event.id && line.attributes.forced === true)).toBe(true);
    });

    it("does not force an event while another run holds its lease", async () => {
      const s = await scenario();
      const event = s.addEvent(s.nowSeconds() - hour);
      expect(await s.deliver(event)).toBe(200);
      const deps = { stripe: s.stripe, app: s.app };
      let started!: () => void;
      const firstStarted = new Promise<void>((resolve) => (started = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      s.handlers.onRun(async () => {
        started();
        await released;
      });

      const first = replayEvent(deps, event.id, { force: true });
      await firstStarted;
      s.handlers.onRun(undefined);
      const second = await replayEvent(deps, event.id, { force: true });
      release();

      expect(second).toMatchObject({ kind: "ran", forced: false, result: { ok: true, outcome: { kind: "in_progress" } } });
      expect(await first).toMatchObject({ kind: "ran", forced: true, result: { ok: true, outcome: { kind: "processed" } } });
      expect(s.handlers.started(event.id)).toBe(2);
      expect(await s.entry(event.id)).toMatchObject({ status: "processed", forcedRuns: 1 });
    });

    it("an id Stripe does not know is refused by Stripe and leaves the ledger alone", async () => {
      const s = await scenario();
      const before = await s.snapshot();
      const error = await replayEvent({ stripe: s.stripe, app: s.app }, "evt_unknown").then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(StripeRequestRefusedError);
      expect(await s.snapshot()).toEqual(before);
    });
  });
});

function withoutKey(event: StripeObject, key: string): StripeObject {
  const { [key]: _removed, ...rest } = event;
  return rest;
}

async function snapshotTable(client: DynamoDBClient, table: string): Promise<Map<string, string>> {
  const items = new Map<string, string>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) items.set(item[ledgerTable.partitionKey]?.S ?? "", JSON.stringify(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
