import { randomBytes } from "node:crypto";
import type Stripe from "stripe";
import type { CatalogEventType } from "@stripe-webhooks/core/catalog";
import { rankSubscriptions, subscriptionState, type Entitlement, type SubscriptionState } from "@stripe-webhooks/core/entitlements";
import { createStripeClient } from "@stripe-webhooks/core/stripe-api";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { randomInt, seededRandom, shuffle } from "@stripe-webhooks/testing/random";
import { startStripeApiDouble, subscriptionItems, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unreachableEndpoint } from "@stripe-webhooks/testing/engines";
import { runScript, startReceiver, stopReceiver, tempDataDir, type Receiver } from "./helpers/processes.ts";

/*
 * The real `npm start` keeping the entitlements projection: its handlers fetch subscriptions
 * through the real `stripe` SDK from the test kit's double of Stripe's API (STRIPE_API_BASE;
 * Stripe cannot be reached from here), and `npm run entitlements -- --json` reads the result back.
 * STRIPE_API_KEY also makes `npm start` run the Stripe CLI; its API base is a closed local port,
 * so `stripe listen` fails at once and the receiver goes on with its local secret.
 */

const apiKey = `sk_test_${randomBytes(16).toString("hex")}`;
const secret = newWebhookSecret();
const data = tempDataDir();
const cliConfig = tempDataDir();
let double: StripeApiDouble;
let receiver: Receiver;
let env: Record<string, string>;

beforeAll(async () => {
  double = await startStripeApiDouble({ apiKeys: [apiKey] });
  env = { DATA_DIR: data.dir, STRIPE_WEBHOOK_SECRET: secret };
  receiver = await startReceiver(
    {
      ...env,
      PORT: "0",
      STRIPE_API_KEY: apiKey,
      STRIPE_API_BASE: double.url,
      STRIPE_CLI_API_BASE: await unreachableEndpoint(),
      XDG_CONFIG_HOME: cliConfig.dir,
      STRIPE_CLI_TELEMETRY_OPTOUT: "1",
    },
    ["--memory"],
  );
});

afterAll(async () => {
  if (receiver) {
    await stopReceiver(receiver);
  }
  await double?.close();
  data.remove();
  cliConfig.remove();
});


interface Step {
  type: CatalogEventType;
  status: Stripe.Subscription.Status;
  price: string;
  cancelAtPeriodEnd: boolean;
}

// Each customer's subscriptions and what happens to them, in order.
const lives: { customer: string; subscription: string; steps: Step[] }[] = [
  {
    customer: "cus_E2eAlice",
    subscription: "sub_E2eAliceOne",
    steps: [
      { type: "customer.subscription.created", status: "incomplete", price: "price_basic", cancelAtPeriodEnd: false },
      { type: "invoice.payment_action_required", status: "incomplete", price: "price_basic", cancelAtPeriodEnd: false },
      { type: "invoice.paid", status: "active", price: "price_basic", cancelAtPeriodEnd: false },
      { type: "customer.subscription.updated", status: "active", price: "price_pro", cancelAtPeriodEnd: true },
    ],
  },
  {
    customer: "cus_E2eAlice",
    subscription: "sub_E2eAliceOld",
    steps: [
      { type: "checkout.session.completed", status: "active", price: "price_basic", cancelAtPeriodEnd: false },
      { type: "invoice.payment_failed", status: "past_due", price: "price_basic", cancelAtPeriodEnd: false },
      { type: "customer.subscription.deleted", status: "canceled", price: "price_basic", cancelAtPeriodEnd: false },
    ],
  },
  {
    customer: "cus_E2eBob",
    subscription: "sub_E2eBob",
    steps: [
      { type: "customer.subscription.created", status: "trialing", price: "price_team", cancelAtPeriodEnd: false },
      { type: "customer.subscription.paused", status: "paused", price: "price_team", cancelAtPeriodEnd: false },
      { type: "customer.subscription.resumed", status: "active", price: "price_team", cancelAtPeriodEnd: false },
      { type: "invoice.payment_failed", status: "past_due", price: "price_team", cancelAtPeriodEnd: false },
    ],
  },
];

function eventFor(type: CatalogEventType, customer: string, subscription: string): Record<string, unknown> {
  if (type === "checkout.session.completed") return buildEvent(type, { object: { mode: "subscription", subscription, customer } });
  if (type.startsWith("invoice.")) {
    const parent = { type: "subscription_details", quote_details: null, subscription_details: { metadata: null, subscription } };
    return buildEvent(type, { object: { customer, parent } });
  }
  // Partial and stale on purpose: the handlers fetch the subscription instead.
  return buildEvent(type, { object: { id: subscription, customer, status: "active", items: undefined } });
}

async function post(event: Record<string, unknown>): Promise<number> {
  const payload = JSON.stringify(event, null, 2);
  const response = await fetch(receiver.url, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": signPayload(payload, secret) },
    body: payload,
  });
  await response.text();
  return response.status;
}

async function entitlements(args: string[] = []): Promise<Entitlement[]> {
  const run = await runScript("entitlements", ["--json", ...args], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Entitlement[];
}

// The projection without the sync times, to compare with what the API says.
function states(entitlement: Entitlement | undefined): SubscriptionState[] | undefined {
  return entitlement?.subscriptions.map(({ syncedAt: _syncedAt, ...state }) => state);
}

describe("npm start keeps the entitlements projection; npm run entitlements reads it", () => {
  it("starts with the Stripe CLI not forwarding (its API base is closed) and the handlers' key unprinted", () => {
    expect(receiver.output()).toMatch(/Stripe CLI\s+not forwarding:/);
    expect(receiver.output()).not.toContain(apiKey);
  });

  it(
    "after shuffled, duplicated, concurrent deliveries while the subscriptions change, equals what the API returns",
    { timeout: 120_000 },
    async () => {
      // Prepare
      const random = seededRandom(20261201);
      const stripe = createStripeClient({ apiKey, apiBase: double.url });
      const events: Record<string, unknown>[] = [];
      const rounds = Math.max(...lives.map((life) => life.steps.length));

      // Act: each round changes every subscription at Stripe, then delivers, in a shuffled and
      // concurrent batch, that round's events (twice or three times some) and a few older ones again.
      for (let round = 0; round < rounds; round += 1) {
        const fresh: Record<string, unknown>[] = [];
        for (const life of lives) {
          const step = life.steps[round];
          if (!step) continue;
          double.setSubscription({
            id: life.subscription,
            customer: life.customer,
            status: step.status,
            cancel_at_period_end: step.cancelAtPeriodEnd,
            items: subscriptionItems(life.subscription, step.price, 1_800_000_000 + round * 2_592_000),
          });
          fresh.push(eventFor(step.type, life.customer, life.subscription));
        }
        const again = events.filter(() => random() < 0.3);
        events.push(...fresh);
        const batch = shuffle(random, [...fresh.flatMap((event) => Array.from({ length: 1 + randomInt(random, 3) }, () => event)), ...again]);
        const answers = await Promise.all(batch.map(post));
        expect(answers.every((status) => [200, 409, 500].includes(status)), String(answers)).toBe(true);
      }
      // A one-off payment: no subscription, nothing projected.
      expect(await post(buildEvent("checkout.session.completed", { object: { mode: "payment", subscription: null, customer: "cus_E2eOneOff" } }))).toBe(200);

      // Stripe retries whatever was not answered 2xx (a run that lost a race, one that met another in flight).
      for (const event of events) {
        let status = await post(event);
        for (let attempt = 0; status !== 200 && attempt < 5; attempt += 1) status = await post(event);
        expect(status, String(event.id)).toBe(200);
      }
      const listed = await entitlements();

      // Assess
      const customers = [...new Set(lives.map((life) => life.customer))].sort();
      expect(listed.map((entitlement) => entitlement.customer)).toEqual(customers);
      for (const customer of customers) {
        const ids = lives.filter((life) => life.customer === customer).map((life) => life.subscription);
        const api = rankSubscriptions(await Promise.all(ids.map(async (id) => subscriptionState(await stripe.subscriptions.retrieve(id)))));
        const entitlement = listed.find((candidate) => candidate.customer === customer);
        expect(states(entitlement)).toEqual(api);
        expect(entitlement?.subscription.id).toBe(api[0]?.id);
      }
      expect(listed.find((entitlement) => entitlement.customer === "cus_E2eAlice")?.subscription).toMatchObject({
        id: "sub_E2eAliceOne",
        status: "active",
        priceId: "price_pro",
        cancelAtPeriodEnd: true,
      });
    },
  );

  it("--customer narrows to one customer; the table names the current subscription of each", async () => {
    const [bob, nobody, table, refused] = await Promise.all([
      entitlements(["--customer", "cus_E2eBob"]),
      entitlements(["--customer", "cus_E2eNobody"]),
      runScript("entitlements", [], env),
      runScript("entitlements", ["--customer", "alice@example.com"], env),
    ]);

    expect(bob).toEqual([
      expect.objectContaining({ customer: "cus_E2eBob", subscription: expect.objectContaining({ id: "sub_E2eBob", status: "past_due" }) }),
    ]);
    expect(nobody).toEqual([]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^CUSTOMER\s+SUBSCRIPTION\s+STATUS\s+PRICE\s+PERIOD END\s+CANCELS\s+SUBSCRIPTIONS\s+SYNCED AT$/m);
    expect(table.stdout).toMatch(/^cus_E2eAlice\s+sub_E2eAliceOne\s+active\s+price_pro\s+\S+ \S+\s+at period end\s+2\s/m);
    expect(table.stdout).toContain("2 customers, the current subscription of each");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--customer must be a customer id/);
  });

  it("never prints the API key, signatures or payloads", () => {
    const output = receiver.output();
    expect(output).not.toContain(apiKey);
    expect(output).not.toMatch(/t=\d+,v1=/);
    expect(output).not.toContain('"object": "event"');
  });
});
