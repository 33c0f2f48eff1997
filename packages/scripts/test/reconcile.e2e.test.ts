import { randomBytes } from "node:crypto";
import type { ReconcileReport } from "@stripe-webhooks/core/reconcile";
import { buildEvent, newEventId, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { startStripeApiDouble, type StripeApiDouble, type StripeObject } from "@stripe-webhooks/testing/stripe-api-double";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unreachableEndpoint } from "@stripe-webhooks/testing/engines";
import { runScript, startReceiver, stopReceiver, tempDataDir, type Receiver, type Run } from "./helpers/processes.ts";

/*
 * The real `npm start` (in-memory ledger, random port) with the test kit's double of Stripe's API
 * in this process: events the receiver never got are found and processed by the real
 * `npm run reconcile`, replayed with `npm run replay`, and read back with `npm run events`.
 */

interface Entry {
  id: string;
  type: string;
  status: string;
  attempts: number;
  forcedRuns?: number;
  lastForcedAt?: string;
}

interface ReplaySummary {
  eventId: string;
  result: string;
  forced: boolean;
  entry?: Entry;
}

const apiKey = `sk_test_${randomBytes(12).toString("hex")}`;
const secret = newWebhookSecret();
const data = tempDataDir();
let receiver: Receiver;
let double: StripeApiDouble;
let env: Record<string, string>;

const hour = 3_600;
const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  double = await startStripeApiDouble({ apiKeys: [apiKey] });
  // The subscription the example events name: the handlers fetch it to keep the entitlements.
  double.setSubscription({});
  receiver = await startReceiver({ DATA_DIR: data.dir, STRIPE_WEBHOOK_SECRET: secret, PORT: "0" }, ["--memory"]);
  // Empty values, so a developer's own settings cannot point the tools elsewhere.
  env = { DATA_DIR: data.dir, STRIPE_API_KEY: apiKey, STRIPE_API_BASE: double.url, STRIPE_WEBHOOK_ENDPOINT_ID: "" };
});

afterAll(async () => {
  if (receiver) {
    await stopReceiver(receiver);
  }
  await double?.close();
  data.remove();
});

/** An event Stripe has, created `ageSeconds` ago (older than the reconciler's grace period). */
function stripeEvent(type: string, ageSeconds: number, delivered: boolean): StripeObject {
  const event = buildEvent(type, { id: newEventId(), created: nowSeconds() - ageSeconds });
  double.addEvent(event, { delivered });
  return event;
}

async function deliver(event: StripeObject): Promise<number> {
  const payload = JSON.stringify(event, null, 2);
  const response = await fetch(receiver.url, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": signPayload(payload, secret) },
    body: payload,
  });
  return response.status;
}

async function entries(): Promise<Entry[]> {
  const run = await runScript("events", ["--json"], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Entry[];
}

async function reconcileJson(args: string[] = [], extraEnv: Record<string, string> = {}): Promise<{ run: Run; report: ReconcileReport }> {
  const run = await runScript("reconcile", ["--json", ...args], { ...env, ...extraEnv });
  return { run, report: JSON.parse(run.stdout) as ReconcileReport };
}

function expectNoSecrets(run: Run): void {
  for (const text of [run.stdout, run.stderr]) {
    expect(text).not.toContain(apiKey);
    expect(text).not.toContain(secret);
  }
}

describe("npm run reconcile, replay and events --summary against npm start", () => {
  const missed: StripeObject[] = [];
  let delivered: StripeObject;

  it("reconcile processes the events that never reached the receiver, and skips the one that did", async () => {
    delivered = stripeEvent("invoice.paid", hour, true);
    expect(await deliver(delivered)).toBe(200);
    // Stripe gave up on two; a wrong origin answered 2xx for the third.
    missed.push(stripeEvent("checkout.session.completed", 2 * hour, false));
    missed.push(stripeEvent("customer.subscription.created", 3 * hour, false));
    missed.push(stripeEvent("invoice.payment_failed", 4 * hour, true));

    const { run, report } = await reconcileJson();

    expect(run.code, run.stderr).toBe(0);
    expect(report).toMatchObject({ examined: 4, recovered: 3, settled: 1, failed: 0, inProgress: 0 });
    expect(report.stoppedBy).toBeUndefined();
    expect(report.endpoint).toBeUndefined();
    expect(report.watermark).toBe(report.window.to);
    const ledger = await entries();
    for (const event of [...missed, delivered]) {
      expect(ledger.find((entry) => entry.id === event.id)).toMatchObject({ status: "processed", attempts: 1 });
    }
    expectNoSecrets(run);
  }, 60_000);

  it("a second run recovers nothing, and says so readably", async () => {
    const run = await runScript("reconcile", [], env);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Ledger +running receiver \(pid \d+\), table \S+$/m);
    expect(run.stdout).toMatch(/^Stripe +STRIPE_API_KEY \(test mode\), http:\/\/127\.0\.0\.1:\d+$/m);
    expect(run.stdout).toMatch(/^Examined +\d+ events: 0 recovered, \d+ already settled, 0 failed, 0 in progress elsewhere$/m);
    expect(run.stdout).toMatch(/^Result +complete$/m);
    expectNoSecrets(run);
    const { report } = await reconcileJson();
    expect(report).toMatchObject({ recovered: 0, failed: 0 });
  }, 60_000);

  it("replay refuses a processed event without --force; with --force runs it again and records the forced run", async () => {
    const id = String(missed[0]?.id);

    const refused = await runScript("replay", [id], env);
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.stdout).toContain(`${id} (checkout.session.completed) is already processed`);
    expect(refused.stdout).toContain("--force");
    const untouched = (await entries()).find((entry) => entry.id === id);
    expect(untouched).toMatchObject({ attempts: 1 });
    expect(untouched?.forcedRuns).toBeUndefined();

    const forced = await runScript("replay", [id, "--force", "--json"], env);
    expect(forced.code, forced.stderr).toBe(0);
    const summary = JSON.parse(forced.stdout) as ReplaySummary;
    expect(summary).toMatchObject({ eventId: id, result: "processed", forced: true });
    expect(summary.entry).toMatchObject({ status: "processed", attempts: 2, forcedRuns: 1 });
    expect((await entries()).find((entry) => entry.id === id)).toMatchObject({ forcedRuns: 1, attempts: 2 });
    expectNoSecrets(forced);
  }, 60_000);

  it("replay processes an event the ledger has never seen, and refuses an id Stripe does not know", async () => {
    // Younger than the reconciler's grace period: it is the webhook's, but a replay may take it.
    const fresh = stripeEvent("customer.subscription.deleted", 10, false);

    const run = await runScript("replay", [String(fresh.id)], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`${String(fresh.id)} (customer.subscription.deleted): processed by this replay (attempt 1)`);

    const unknown = await runScript("replay", ["evt_doesnotexist"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/error: Stripe events\.retrieve was refused: .*No such event/);
    expectNoSecrets(unknown);
  }, 60_000);

  it("events --summary counts the ledger by status and by type", async () => {
    const text = await runScript("events", ["--summary"], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^TYPE +TOTAL +QUEUED +PROCESSING +PROCESSED +FAILED +IGNORED$/m);
    expect(text.stdout).toMatch(/^checkout\.session\.completed +1 +0 +0 +1 +0 +0$/m);
    expect(text.stdout).toMatch(/^\(all types\) +5 +0 +0 +5 +0 +0$/m);
    expect(text.stdout).toMatch(/^5 entries$/m);

    const json = await runScript("events", ["--summary", "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      total: 5,
      byStatus: { queued: 0, processing: 0, processed: 5, failed: 0, ignored: 0 },
      byType: {
        "checkout.session.completed": { total: 1, processed: 1 },
        "customer.subscription.created": { total: 1, processed: 1 },
        "customer.subscription.deleted": { total: 1, processed: 1 },
        "invoice.paid": { total: 1, processed: 1 },
        "invoice.payment_failed": { total: 1, processed: 1 },
      },
      deadLettered: 0,
      leaseExpired: 0,
    });
  }, 60_000);

  it("with --endpoint: a disabled endpoint is reported, logged as an error, and exits 1", async () => {
    const endpointId = "we_1ReconcileE2eEndpoint";
    double.setEndpoint({ id: endpointId, status: "disabled", created: nowSeconds() - 10 * 24 * hour });
    const late = stripeEvent("invoice.paid", 30 * 60, false);

    const { run, report } = await reconcileJson(["--endpoint", endpointId]);

    expect(run.code).toBe(1);
    expect(report.endpoint).toMatchObject({ id: endpointId, status: "disabled" });
    expect(report.recovered).toBe(1);
    const logged = run.stderr.split("\n").filter((line) => line.startsWith("{"));
    expect(logged.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ level: "ERROR", endpointId }),
    );
    expect((await entries()).find((entry) => entry.id === late.id)).toMatchObject({ status: "processed" });
    expectNoSecrets(run);
  }, 60_000);

  it("misconfiguration exits 1 with one line naming it, never the key, and leaves the ledger alone", async () => {
    const before = await entries();
    const unset = await runScript("reconcile", [], { ...env, STRIPE_API_KEY: "" });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toMatch(/^error: STRIPE_API_KEY is not set/m);

    const liveKey = `sk_live_${randomBytes(12).toString("hex")}`;
    const live = await runScript("reconcile", [], { ...env, STRIPE_API_KEY: liveKey });
    expect(live.code).toBe(1);
    expect(live.stderr).toMatch(/^error: STRIPE_API_KEY is a live-mode key/m);
    expect(`${live.stdout}${live.stderr}`).not.toContain(liveKey);

    const unknownKey = `sk_test_${randomBytes(12).toString("hex")}`;
    const refused = await runScript("reconcile", [], { ...env, STRIPE_API_KEY: unknownKey });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: Stripe events\.list failed: the API key is invalid or lacks a permission/m);
    expect(`${refused.stdout}${refused.stderr}`).not.toContain(unknownKey);

    const badBase = await runScript("reconcile", [], { ...env, STRIPE_API_BASE: "http://127.0.0.1:12111/v1" });
    expect(badBase.code).toBe(1);
    expect(badBase.stderr).toMatch(/^error: Stripe apiBase .* without a path/m);

    expect(await entries()).toEqual(before);
  }, 90_000);

  it("under a stage's links, takes only a key of the mode the stage's StripeEndpoint link carries", async () => {
    const before = await entries();
    // As `sst shell --stage e2e` presents a deployed stage; the key is refused before any ledger is opened.
    const stage = (endpoint: Record<string, unknown>) => ({
      ...env,
      SST_RESOURCE_App: JSON.stringify({ name: "stripe-webhooks", stage: "e2e" }),
      SST_RESOURCE_Ledger: JSON.stringify({ type: "sst.sst.Linkable", name: "e2e-ledger" }),
      SST_RESOURCE_StripeEndpoint: JSON.stringify({ type: "sst.sst.Linkable", id: "", drainingId: "", overriddenIds: [], ...endpoint }),
    });

    const testKeyOnLive = await runScript("reconcile", [], stage({ mode: "live" }));
    expect(testKeyOnLive.code).toBe(1);
    expect(testKeyOnLive.stderr).toMatch(/^error: STRIPE_API_KEY is a test-mode key, but stage e2e is a live-mode stage: use a live-mode key\./m);

    const liveKey = `sk_live_${randomBytes(12).toString("hex")}`;
    const liveKeyOnTest = await runScript("reconcile", [], { ...stage({ mode: "test" }), STRIPE_API_KEY: liveKey });
    expect(liveKeyOnTest.code).toBe(1);
    expect(liveKeyOnTest.stderr).toMatch(/^error: STRIPE_API_KEY is a live-mode key, but stage e2e is a test-mode stage: use a test-mode key\./m);
    expect(`${liveKeyOnTest.stdout}${liveKeyOnTest.stderr}`).not.toContain(liveKey);

    // A stage deployed before its link carried the mode: no guess either way.
    const unknownMode = await runScript("reconcile", [], stage({}));
    expect(unknownMode.code).toBe(1);
    expect(unknownMode.stderr).toMatch(/^error: stage e2e's StripeEndpoint link carries no Stripe mode: deploy the stage again/m);

    for (const run of [testKeyOnLive, unknownMode]) expectNoSecrets(run);
    expect(await entries()).toEqual(before);
  }, 90_000);

  it("Stripe unreachable (connection refused, a name that does not resolve): the result names the host and the cause, never a back-off", async () => {
    const refusing = await unreachableEndpoint();
    const { port } = new URL(refusing);

    const [refused, unresolved] = await Promise.all([
      runScript("reconcile", [], { ...env, STRIPE_API_BASE: refusing }),
      // .invalid never resolves (RFC 2606).
      runScript("reconcile", [], { ...env, STRIPE_API_BASE: "http://stripe-api.invalid" }),
    ]);

    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      new RegExp(`^Result +stopped: Stripe's API at http://127\\.0\\.0\\.1:${port} could not be reached \\(ECONNREFUSED: .*check STRIPE_API_BASE`, "m"),
    );
    expect(unresolved.code).toBe(1);
    expect(unresolved.stdout).toMatch(
      /^Result +stopped: Stripe's API at http:\/\/stripe-api\.invalid could not be reached \((ENOTFOUND|EAI_AGAIN|EAI_FAIL): the host name .*resolve/m,
    );
    for (const run of [refused, unresolved]) {
      expect(run.stdout).not.toContain("back off");
      expectNoSecrets(run);
    }

    const json = await reconcileJson([], { STRIPE_API_BASE: refusing });
    expect(json.report.stoppedBy).toBe("stripe-unavailable");
    expect(json.run.stderr).toContain(`Stripe's API at http://127.0.0.1:${port} could not be reached (ECONNREFUSED`);
    expectNoSecrets(json.run);
  }, 90_000);
});
