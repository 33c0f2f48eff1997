import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { rankSubscriptions, subscriptionState, type Entitlement, type SubscriptionState } from "@stripe-webhooks/core/entitlements";
import type { LedgerEntry } from "@stripe-webhooks/core/ledger";
import { createStripeClient } from "@stripe-webhooks/core/stripe-api";
import { dynamoClient, ledgerTableName, localRegion } from "@stripe-webhooks/scripts/local-dynamo";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { seededRandom, shuffle } from "@stripe-webhooks/testing/random";
import { startStripeApiDouble, subscriptionItems, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runScript, startReceiver, stopReceiver, tempDataDir, type Receiver } from "./helpers/processes.ts";

/*
 * The real `npm start` in its default, queued mode: the webhook answers from the ledger and the
 * SQS FIFO stand-in, and the deployed consumer adapter runs the example handlers, which fetch
 * subscriptions from the test kit's Stripe API double holding Stripe's test-mode read limit
 * (25/s). Then a kill -9 with events still in the queue, and --inline beside it.
 */

const apiKey = `sk_test_${randomBytes(16).toString("hex")}`;
const secret = newWebhookSecret();
let double: StripeApiDouble;
const receivers: Receiver[] = [];
const dirs: Array<{ remove: () => void }> = [];

beforeAll(async () => {
  double = await startStripeApiDouble({ apiKeys: [apiKey], rateLimit: { mode: "test" } });
});

afterEach(async () => {
  for (const receiver of receivers.splice(0)) {
    await stopReceiver(receiver, 15_000);
  }
});

afterAll(async () => {
  await double?.close();
  for (const dir of dirs.splice(0)) dir.remove();
});

function dataDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir.dir;
}

async function start(dir: string, args: string[] = []): Promise<Receiver> {
  const receiver = await startReceiver(
    { DATA_DIR: dir, PORT: "0", STRIPE_WEBHOOK_SECRET: secret },
    args,
    { processing: "queued" },
  );
  receivers.push(receiver);
  return receiver;
}

/*
 * The handlers read STRIPE_API_KEY, which also makes `npm start` run the Stripe CLI; its API base
 * is then a closed port (see entitlements.e2e), so the receiver goes on without forwarding.
 */
async function startWithKey(dir: string, args: string[] = []): Promise<Receiver> {
  const receiver = await startReceiver(
    {
      DATA_DIR: dir,
      PORT: "0",
      STRIPE_WEBHOOK_SECRET: secret,
      STRIPE_API_KEY: apiKey,
      STRIPE_API_BASE: double.url,
      STRIPE_CLI_API_BASE: "http://127.0.0.1:9",
      XDG_CONFIG_HOME: dataDir(),
      STRIPE_CLI_TELEMETRY_OPTOUT: "1",
    },
    args,
    { processing: "queued" },
  );
  receivers.push(receiver);
  return receiver;
}

async function post(receiver: Receiver, event: Record<string, unknown>): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(event);
  const response = await fetch(receiver.url, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": signPayload(payload, secret) },
    body: payload,
  });
  return { status: response.status, body: await response.text() };
}

/** Posts `events` with at most `concurrency` in flight; the answers in the same order. */
async function burst(receiver: Receiver, events: Record<string, unknown>[], concurrency: number): Promise<number[]> {
  const statuses: number[] = new Array<number>(events.length);
  let next = 0;
  const worker = async () => {
    while (next < events.length) {
      const index = next;
      next += 1;
      statuses[index] = (await post(receiver, events[index] ?? {})).status;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

function ledgerClient(receiver: Receiver): DynamoDBClient {
  return dynamoClient(receiver.dynamodbEndpoint, localRegion());
}

/** Reads the ledger until every one of `ids` is processed; the entries then. */
async function settled(receiver: Receiver, ids: ReadonlySet<string>, timeoutMs = 90_000): Promise<LedgerEntry[]> {
  const client = ledgerClient(receiver);
  const deadline = performance.now() + timeoutMs;
  try {
    for (;;) {
      const entries = (await ledgerReader(client, ledgerTableName()).list()).filter((entry) => ids.has(entry.id));
      if (entries.length === ids.size && entries.every((entry) => entry.status === "processed")) return entries;
      if (performance.now() > deadline) {
        const open = entries.filter((entry) => entry.status !== "processed").map((entry) => `${entry.id}:${entry.status}`);
        throw new Error(`not all processed: ${entries.length}/${ids.size} in the ledger, open ${open.join(", ")}\n${receiver.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    client.destroy();
  }
}

/** A renewal: two subscription updates (stale payloads, the handlers fetch) and an invoice. */
function renewal(customer: string, subscription: string): Record<string, unknown>[] {
  const updated = () => buildEvent("customer.subscription.updated", { object: { id: subscription, customer, status: "active", items: undefined } });
  const parent = { type: "subscription_details", quote_details: null, subscription_details: { metadata: null, subscription } };
  return [updated(), updated(), buildEvent("invoice.paid", { object: { customer, parent } })];
}

function setSubscriptions(count: number, prefix: string, price: string): Array<{ customer: string; subscription: string }> {
  return Array.from({ length: count }, (_, index) => {
    const customer = `cus_${prefix}${index}`;
    const subscription = `sub_${prefix}${index}`;
    double.setSubscription({ id: subscription, customer, status: "active", cancel_at_period_end: false, items: subscriptionItems(subscription, price, 1_800_000_000) });
    return { customer, subscription };
  });
}

async function expectEntitlementsEqualApi(dir: string, customers: ReadonlyArray<{ customer: string; subscription: string }>): Promise<void> {
  const run = await runScript("entitlements", ["--json"], { DATA_DIR: dir });
  expect(run.code, run.stderr).toBe(0);
  const listed = JSON.parse(run.stdout) as Entitlement[];
  const stripe = createStripeClient({ apiKey, apiBase: double.url, maxNetworkRetries: 5 });
  for (const { customer, subscription } of customers) {
    const api = rankSubscriptions([subscriptionState(await stripe.subscriptions.retrieve(subscription))]);
    const states: SubscriptionState[] | undefined = listed
      .find((entitlement) => entitlement.customer === customer)
      ?.subscriptions.map(({ syncedAt: _syncedAt, ...state }) => state);
    expect(states, customer).toEqual(api);
  }
}

describe("npm start, queued (the default)", () => {
  it(
    "answers a renewal burst with no 5xx and processes every event once; entitlements equal the API",
    { timeout: 180_000 },
    async () => {
      // Prepare
      const dir = dataDir();
      const receiver = await startWithKey(dir, ["--memory"]);
      const customers = setSubscriptions(20, "Burst", "price_pro");
      const random = seededRandom(2026_03_01);
      const events = customers.flatMap(({ customer, subscription }) => renewal(customer, subscription));
      const deliveries = shuffle(random, [...events, ...events.filter(() => random() < 1 / 3)]);
      const rateLimitedBefore = double.rateLimited();

      // Act
      const statuses = await burst(receiver, deliveries, 16);
      const ids = new Set(events.map((event) => String(event.id)));
      const entries = await settled(receiver, ids);

      // Assess
      expect(statuses.filter((status) => status >= 500)).toEqual([]);
      expect(statuses.every((status) => status === 200)).toBe(true);
      expect(entries).toHaveLength(events.length);
      // Claimed once each: no run lost a race or was repeated (a rate-limited run would count twice).
      const rateLimited = double.rateLimited() - rateLimitedBefore;
      if (rateLimited === 0) expect(entries.filter((entry) => entry.attempts !== 1)).toEqual([]);
      expect(entries.every((entry) => entry.forcedRuns === undefined)).toBe(true);
      await expectEntitlementsEqualApi(dir, customers);
      expect(receiver.output()).toMatch(/Processing\s+queued:/);
      expect(receiver.output()).toMatch(/SQS FIFO stand-in, journal in a temporary directory \(--memory\).*stand-in because no SQS emulator/s);
      expect(receiver.output()).not.toContain(apiKey);
    },
  );

  it(
    "loses nothing queued across kill -9: after a restart every event is processed, none twice",
    { timeout: 180_000 },
    async () => {
      // Prepare: every subscription fetch rate-limited, so the consumer keeps returning them to the queue.
      const dir = dataDir();
      const customers = setSubscriptions(6, "Killed", "price_team");
      const events = customers.flatMap(({ customer, subscription }) => renewal(customer, subscription));
      const ids = new Set(events.map((event) => String(event.id)));
      double.failNext({ fault: "rate-limit", times: Number.POSITIVE_INFINITY, path: /^\/v1\/subscriptions\// });
      const first = await startWithKey(dir);
      const statuses = await burst(first, events, 8);
      expect(statuses.every((status) => status === 200), String(statuses)).toBe(true);
      const state = JSON.parse(readFileSync(join(dir, "receiver.json"), "utf8")) as { processing?: string; queueDir?: string };
      expect(state).toMatchObject({ processing: "queued", queueDir: join(dir, "queue") });
      const client = ledgerClient(first);
      const before = (await ledgerReader(client, ledgerTableName()).list()).filter((entry) => ids.has(entry.id));
      client.destroy();
      expect(before.filter((entry) => entry.status === "processed")).toEqual([]);

      // Act
      first.kill();
      await first.exit;
      receivers.splice(receivers.indexOf(first), 1);
      double.clearFaults();
      const second = await startWithKey(dir);
      const entries = await settled(second, ids);

      // Assess
      expect(entries).toHaveLength(events.length);
      expect(entries.every((entry) => entry.forcedRuns === undefined)).toBe(true);
      await expectEntitlementsEqualApi(dir, customers);
      const events2 = await runScript("events", ["--summary", "--json"], { DATA_DIR: dir });
      expect(JSON.parse(events2.stdout)).toMatchObject({ byStatus: { processed: events.length, queued: 0, failed: 0 }, deadLettered: 0 });
    },
  );

  it("shows queued entries in npm run events while the consumer is held back", { timeout: 120_000 }, async () => {
    // Prepare
    const dir = dataDir();
    const [customer] = setSubscriptions(1, "Held", "price_basic");
    double.failNext({ fault: "hang", times: 1, path: /^\/v1\/subscriptions\// });
    const receiver = await startWithKey(dir);
    const events = renewal(customer?.customer ?? "", customer?.subscription ?? "");

    // Act: the first run hangs on its fetch, so its group's other two wait in the queue.
    const statuses = await burst(receiver, events, 1);
    const run = await runScript("events", ["--status", "queued"], { DATA_DIR: dir });

    // Assess
    expect(statuses).toEqual([200, 200, 200]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.match(/ queued /g)?.length).toBeGreaterThanOrEqual(2);
    double.clearFaults();
  });
});

describe("npm start -- --inline", () => {
  it("processes each event inside its request, and says so", { timeout: 60_000 }, async () => {
    const dir = dataDir();
    const receiver = await start(dir, ["--inline"]);

    const answer = await post(receiver, buildEvent("checkout.session.completed", { object: { mode: "payment", subscription: null, customer: "cus_Inline" } }));

    expect(answer.status).toBe(200);
    expect(answer.body).toContain('"processed"');
    expect(receiver.output()).toMatch(/Processing\s+inline \(--inline\)/);
    expect(JSON.parse(readFileSync(join(dir, "receiver.json"), "utf8"))).toMatchObject({ processing: "inline" });
  });
});
