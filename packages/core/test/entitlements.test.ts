import { randomBytes } from "node:crypto";
import { UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWebhookApp, type WebhookApp } from "../src/app.ts";
import { eventCatalog, type CatalogEventType } from "../src/catalog.ts";
import { dispatch, type CatalogEvent, type HandlerContext, type HandlerRegistry } from "../src/dispatch.ts";
import {
  currentSubscription,
  getEntitlement,
  listEntitlements,
  entitlementKeyPrefix,
  rankSubscriptions,
  subscriptionState,
  syncedAfterEventMarginMs,
  type SubscriptionState,
} from "../src/entitlements.ts";
import { entitlementHandlers } from "../src/handlers.ts";
import type { WebhookLogger } from "../src/logger.ts";
import type { WebhookRequest } from "../src/request.ts";
import { createStripeClient } from "../src/stripe-api.ts";
import { asStripeEvent } from "../src/verify.ts";
import { signedDelivery } from "@stripe-webhooks/testing/deliveries";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { randomInt, seededRandom } from "@stripe-webhooks/testing/random";
import { startStripeApiDouble, subscriptionItems, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { buildEvent, newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";

/*
 * The entitlements projection through the whole pipeline on both DynamoDB engines (DynamoDB
 * Local commits the staged writes in a transaction, as on AWS; dynalite, which has no
 * transactions, writes them sequentially, as the local receiver does), with the real `stripe` SDK
 * fetching subscriptions from the test kit's double while the test changes them. The property:
 * however a customer's events are ordered, duplicated, run concurrently or retried, once every
 * event is settled the projection is what the API returns.
 */

const apiKey = `sk_test_${randomBytes(16).toString("hex")}`;
const secret = newWebhookSecret();
const silent: WebhookLogger = { info: () => {}, warn: () => {}, error: () => {} };

const delivery = (event: Record<string, unknown>): WebhookRequest => signedDelivery(event, secret);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));


/** A subscription's state at Stripe after one change. */
interface Change {
  subscription: string;
  status: Stripe.Subscription.Status;
  price: string;
  periodEnd: number;
  cancelAtPeriodEnd: boolean;
}

/** The event Stripe sends about a change, naming the subscription the way its type does. */
function eventAbout(type: CatalogEventType, change: Change, customer: string, legacyInvoice: boolean): Record<string, unknown> {
  const subscription = change.subscription;
  if (type === "checkout.session.completed") {
    return buildEvent(type, { object: { mode: "subscription", subscription, customer } });
  }
  if (type.startsWith("invoice.")) {
    const parent = { type: "subscription_details", quote_details: null, subscription_details: { metadata: null, subscription } };
    return buildEvent(type, {
      object: legacyInvoice ? { customer, parent: null, subscription } : { customer, parent, subscription: undefined },
    });
  }
  // A partial, possibly stale copy: the handlers must not rely on it.
  return buildEvent(type, { object: { id: subscription, customer, status: "active", items: undefined } });
}

const middleSteps = [
  "customer.subscription.updated",
  "customer.subscription.paused",
  "customer.subscription.resumed",
  "invoice.paid",
  "invoice.payment_failed",
  "invoice.payment_action_required",
  "checkout.session.completed",
] as const satisfies readonly CatalogEventType[];

const statusAfter: Record<(typeof middleSteps)[number], readonly Stripe.Subscription.Status[]> = {
  "customer.subscription.updated": ["active", "trialing", "past_due", "unpaid"],
  "customer.subscription.paused": ["paused"],
  "customer.subscription.resumed": ["active"],
  "invoice.paid": ["active"],
  "invoice.payment_failed": ["past_due", "unpaid"],
  "invoice.payment_action_required": ["incomplete", "past_due"],
  "checkout.session.completed": ["active", "trialing"],
};

const stateArb = fc.record({
  price: fc.constantFrom("price_basic", "price_pro", "price_team"),
  periodEnd: fc.integer({ min: 1_800_000_000, max: 1_900_000_000 }),
  cancelAtPeriodEnd: fc.boolean(),
  pick: fc.nat(),
});

// One subscription's life: created, some changes, perhaps deleted at the end.
const lifeArb = fc.record({
  created: stateArb,
  steps: fc.array(fc.record({ type: fc.constantFrom(...middleSteps), state: stateArb }), { maxLength: 5 }),
  deleted: fc.option(stateArb, { nil: undefined }),
});

const scenarioArb = fc.record({
  lives: fc.array(lifeArb, { minLength: 1, maxLength: 2 }),
  // Drives the interleaving, the delivery schedule, duplicates and concurrency.
  seed: fc.integer(),
  legacyInvoices: fc.boolean(),
});

// The example handlers, pausing between each run's fetch and its commit: mostly briefly, now and
// then long enough for a later change and its event to be handled in between, where races happen.
function slowed(random: () => number): HandlerRegistry {
  const body = async (event: CatalogEvent, context: HandlerContext) => {
    const result = await dispatch(entitlementHandlers, event, context);
    await sleep(random() < 0.3 ? 30 + randomInt(random, 30) : randomInt(random, 3));
    return result;
  };
  return Object.fromEntries(eventCatalog.map((type) => [type, body])) as unknown as HandlerRegistry;
}

let counter = 0;
const uniqueId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(counter += 1).toString(36)}${randomBytes(3).toString("hex")}`;

describeEachEngine("entitlements", (engine, definition) => {
  let tableName: string;
  let client: DynamoDBClient;
  let double: StripeApiDouble;
  let stripe: Stripe;
  const { transactions } = definition;

  beforeAll(async () => {
    tableName = await engine().createLedgerTable();
    client = engine().client();
    double = await startStripeApiDouble({ apiKeys: [apiKey] });
    stripe = createStripeClient({ apiKey, apiBase: double.url });
  });

  afterAll(async () => {
    client.destroy();
    await double.close();
  });

  // One function instance; several of them share the table, as Lambda's concurrent containers do.
  function start(registry: HandlerRegistry = entitlementHandlers): WebhookApp {
    return createWebhookApp({
      dynamo: client,
      settings: () => ({ webhookSecret: secret, mode: "test", tableName, stripeApiKey: apiKey, stripeApiBase: double.url }),
      registry,
      logger: silent,
      ledger: { transactions },
    });
  }

  function apply(customer: string, change: Change): void {
    double.setSubscription({
      id: change.subscription,
      customer,
      status: change.status,
      cancel_at_period_end: change.cancelAtPeriodEnd,
      items: subscriptionItems(change.subscription, change.price, change.periodEnd),
    });
  }

  // What the API says now about each subscription, in the projection's shape and order.
  async function fromApi(subscriptions: readonly string[]): Promise<SubscriptionState[]> {
    const states = await Promise.all(subscriptions.map(async (id) => subscriptionState(await stripe.subscriptions.retrieve(id))));
    return rankSubscriptions(states);
  }

  async function stored(customer: string): Promise<SubscriptionState[] | undefined> {
    const entitlement = await getEntitlement(client, tableName, customer);
    return entitlement?.subscriptions.map(({ syncedAt: _syncedAt, ...state }) => state);
  }

  describe("reads", () => {
    it("picks the most relevant subscription as current, lists customers, and reads one customer", async () => {
      // Prepare: an old canceled subscription and a live one for one customer; another customer.
      const app = start();
      const [customer, other] = [uniqueId("cus_read"), uniqueId("cus_read")];
      const changes: [string, Change][] = [
        [customer, { subscription: uniqueId("sub_old"), status: "canceled", price: "price_basic", periodEnd: 1_800_000_000, cancelAtPeriodEnd: false }],
        [customer, { subscription: uniqueId("sub_new"), status: "active", price: "price_pro", periodEnd: 1_810_000_000, cancelAtPeriodEnd: true }],
        [other, { subscription: uniqueId("sub_other"), status: "past_due", price: "price_basic", periodEnd: 1_805_000_000, cancelAtPeriodEnd: false }],
      ];

      // Act
      for (const [owner, change] of changes) {
        apply(owner, change);
        const response = await app.handleWebhook(delivery(eventAbout("customer.subscription.updated", change, owner, false)));
        expect(response.statusCode).toBe(200);
      }

      // Assess
      const entitlement = await getEntitlement(client, tableName, customer);
      expect(entitlement?.subscription).toMatchObject({
        id: changes[1]?.[1].subscription,
        status: "active",
        priceId: "price_pro",
        currentPeriodEnd: 1_810_000_000,
        cancelAtPeriodEnd: true,
        syncedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(entitlement?.subscriptions.map((state) => state.status)).toEqual(["active", "canceled"]);
      expect(await listEntitlements(client, tableName, { customer: other })).toEqual([
        expect.objectContaining({ customer: other, subscription: expect.objectContaining({ status: "past_due" }) }),
      ]);
      const everyone = await listEntitlements(client, tableName);
      expect(everyone.map((item) => item.customer)).toEqual(expect.arrayContaining([customer, other]));
      expect(everyone.map((item) => item.customer)).toEqual([...everyone.map((item) => item.customer)].sort());
      expect(await getEntitlement(client, tableName, "cus_nobody")).toBeUndefined();
      expect(await listEntitlements(client, tableName, { customer: "cus_nobody" })).toEqual([]);
    });

    it("fetches a connected account's subscription on that account (Stripe-Account), a platform's own without", async () => {
      // Prepare
      const app = start();
      const [direct, connected] = [uniqueId("cus_acct"), uniqueId("cus_acct")];
      const changes = {
        direct: { subscription: uniqueId("sub_direct"), status: "active", price: "price_basic", periodEnd: 1_800_000_000, cancelAtPeriodEnd: false },
        connected: { subscription: uniqueId("sub_connected"), status: "active", price: "price_basic", periodEnd: 1_800_000_000, cancelAtPeriodEnd: false },
      } satisfies Record<string, Change>;
      apply(direct, changes.direct);
      apply(connected, changes.connected);
      const account = uniqueId("acct_connected");

      // Act
      const own = await app.handleWebhook(delivery(eventAbout("customer.subscription.updated", changes.direct, direct, false)));
      const theirs = await app.handleWebhook(
        delivery({ ...eventAbout("customer.subscription.updated", changes.connected, connected, false), account }),
      );

      // Assess
      expect([own.statusCode, theirs.statusCode]).toEqual([200, 200]);
      const retrievals = (subscription: string) =>
        double.requests.filter((request) => request.path === `/v1/subscriptions/${subscription}`).map((request) => request.stripeAccount);
      expect(retrievals(changes.direct.subscription)).toEqual([undefined]);
      expect(retrievals(changes.connected.subscription)).toEqual([account]);
    });

    it("ranks active and trialing over past due, paused, incomplete and canceled; then the later period end", () => {
      const state = (id: string, status: Stripe.Subscription.Status, currentPeriodEnd: number | null): SubscriptionState => ({
        id,
        status,
        priceId: null,
        currentPeriodEnd,
        cancelAtPeriodEnd: false,
      });
      const ranked = rankSubscriptions([
        state("sub_a", "canceled", 9),
        state("sub_b", "paused", 5),
        state("sub_c", "active", 1),
        state("sub_d", "past_due", 3),
        state("sub_e", "trialing", 2),
        state("sub_f", "incomplete_expired", 9),
        state("sub_g", "incomplete", null),
      ]);
      expect(ranked.map((item) => item.id)).toEqual(["sub_e", "sub_c", "sub_d", "sub_b", "sub_g", "sub_a", "sub_f"]);
      expect(currentSubscription([])).toBeUndefined();
    });
  });

  describe("skipping the fetch", () => {
    const fetches = (subscription: string) => double.requestCount(`/v1/subscriptions/${subscription}`);
    const nowSeconds = () => Math.floor(Date.now() / 1000);
    const outcomeOf = async (event: Record<string, unknown>) => (await ledgerReader(client, tableName).get(String(event.id)))?.outcome;

    // Moves when the stored state of `subscription` was fetched, as if its fetch had started then.
    async function storedFetchAt(customer: string, subscription: string, fetchedAt: number): Promise<void> {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: `${entitlementKeyPrefix}${customer}` } },
          UpdateExpression: "SET #subscription.#fetchedAt = :fetchedAt",
          ExpressionAttributeNames: { "#subscription": `subscription#${subscription}`, "#fetchedAt": "fetchedAt" },
          ExpressionAttributeValues: { ":fetchedAt": { N: String(fetchedAt) } },
        }),
      );
    }

    it("a renewal's events handled one after another fetch once: the later ones find a state fetched after they were created", async () => {
      // Prepare: a renewal a minute ago, its three events delivered only now (a backlog).
      const app = start();
      const customer = uniqueId("cus_renew");
      const renewed: Change = { subscription: uniqueId("sub_renew"), status: "active", price: "price_pro", periodEnd: 1_830_000_000, cancelAtPeriodEnd: false };
      apply(customer, renewed);
      const created = nowSeconds() - 60;
      const events = [
        { ...eventAbout("customer.subscription.updated", renewed, customer, false), created },
        { ...eventAbout("invoice.paid", renewed, customer, false), created },
        { ...eventAbout("customer.subscription.updated", renewed, customer, false), created: created + 1 },
      ];

      // Act
      const answers = [];
      for (const event of events) answers.push((await app.handleWebhook(delivery(event))).statusCode);
      const syncedAt = (await getEntitlement(client, tableName, customer))?.subscription.syncedAt;

      // Assess
      expect(answers).toEqual([200, 200, 200]);
      expect(fetches(renewed.subscription)).toBe(1);
      expect(await outcomeOf(events[0] ?? {})).toBe(`entitlement ${customer}: ${renewed.subscription} active`);
      for (const event of events.slice(1)) {
        expect(await outcomeOf(event)).toBe(`entitlement ${customer}: ${renewed.subscription} active (skipped fetch: synced after the event)`);
      }
      expect(await stored(customer)).toEqual(await fromApi([renewed.subscription]));
      expect(syncedAt).toBeDefined();
    });

    it(`fetches unless the stored state was fetched more than the margin (${syncedAfterEventMarginMs} ms) after the event was created`, async () => {
      // Prepare: a stored state, then its fetch moved 20 s into the past; Stripe's state changes since.
      const app = start();
      const customer = uniqueId("cus_margin");
      const before: Change = { subscription: uniqueId("sub_margin"), status: "active", price: "price_basic", periodEnd: 1_800_000_000, cancelAtPeriodEnd: false };
      apply(customer, before);
      expect((await app.handleWebhook(delivery(eventAbout("customer.subscription.created", before, customer, false)))).statusCode).toBe(200);
      const fetchedAt = Date.now() - 20_000;
      await storedFetchAt(customer, before.subscription, fetchedAt);
      apply(customer, { ...before, status: "past_due" });
      const createdBefore = (ms: number) => Math.floor((fetchedAt - ms) / 1000);
      // Seconds count whole: created 1 s past the margin is after it however the second falls.
      const outside = { ...eventAbout("invoice.payment_failed", before, customer, false), created: createdBefore(syncedAfterEventMarginMs + 1_000) };
      const inside = { ...eventAbout("invoice.payment_failed", before, customer, false), created: createdBefore(syncedAfterEventMarginMs - 1_000) };

      // Act
      const skippedAnswer = await app.handleWebhook(delivery(outside));
      const afterSkip = { fetches: fetches(before.subscription), state: await stored(customer) };
      const fetchedAnswer = await app.handleWebhook(delivery(inside));

      // Assess: the older event trusts the stored state; the one within the margin fetches the change.
      expect([skippedAnswer.statusCode, fetchedAnswer.statusCode]).toEqual([200, 200]);
      expect(afterSkip.fetches).toBe(1);
      expect(afterSkip.state?.map((state) => state.status)).toEqual(["active"]);
      expect(await outcomeOf(outside)).toMatch(/\(skipped fetch: synced after the event\)$/);
      expect(fetches(before.subscription)).toBe(2);
      expect(await outcomeOf(inside)).toBe(`entitlement ${customer}: ${before.subscription} past_due`);
      expect(await stored(customer)).toEqual(await fromApi([before.subscription]));
    });

    it("fetches when the payload names no customer, nothing is stored yet, or the stored state cannot be read", async () => {
      // Prepare: events a minute old; the stored state, once there, fetched after them.
      const customer = uniqueId("cus_fallback");
      const change: Change = { subscription: uniqueId("sub_fallback"), status: "active", price: "price_team", periodEnd: 1_820_000_000, cancelAtPeriodEnd: false };
      apply(customer, change);
      const created = nowSeconds() - 60;
      const unreadable = start({
        ...entitlementHandlers,
        "invoice.paid": (event, context) =>
          dispatch(entitlementHandlers, event, {
            ...context,
            readItem: () => Promise.reject(new Error("ProvisionedThroughputExceededException")),
          }),
      });
      const first = { ...eventAbout("customer.subscription.updated", change, customer, false), created };
      const anonymous = buildEvent("customer.subscription.updated", { created, object: { id: change.subscription, customer: null } });
      const failedRead = { ...eventAbout("invoice.paid", change, customer, false), created };
      const control = { ...eventAbout("invoice.paid", change, customer, false), created };

      // Act
      const answers = [
        (await start().handleWebhook(delivery(first))).statusCode,
        (await start().handleWebhook(delivery(anonymous))).statusCode,
        (await unreadable.handleWebhook(delivery(failedRead))).statusCode,
      ];
      const fetchedThrice = fetches(change.subscription);
      answers.push((await start().handleWebhook(delivery(control))).statusCode);

      // Assess: nothing stored, no customer to look under, a failed read: each one fetched; the
      // control, the same invoice event read as usual, did not.
      expect(answers).toEqual([200, 200, 200, 200]);
      expect(fetchedThrice).toBe(3);
      expect(await outcomeOf(failedRead)).toBe(`entitlement ${customer}: ${change.subscription} active`);
      expect(fetches(change.subscription)).toBe(3);
      expect(await outcomeOf(control)).toMatch(/\(skipped fetch: synced after the event\)$/);
      expect(await stored(customer)).toEqual(await fromApi([change.subscription]));
    });
  });

  describe("races", () => {
    it("refuses an older fetch that commits after a newer one; its retry fetches again and converges", async () => {
      // Prepare: the first event's run is held between its fetch and its commit.
      const customer = uniqueId("cus_race");
      const subscription = uniqueId("sub_race");
      const first: Change = { subscription, status: "trialing", price: "price_basic", periodEnd: 1_800_000_000, cancelAtPeriodEnd: false };
      const second: Change = { ...first, status: "active", price: "price_pro" };
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      let fetched: () => void = () => {};
      const fetchDone = new Promise<void>((resolve) => (fetched = resolve));
      const slow = start({
        ...entitlementHandlers,
        async "customer.subscription.created"(event, context) {
          const result = await dispatch(entitlementHandlers, event, context);
          fetched();
          await held;
          return result;
        },
      });
      const fast = start();
      apply(customer, first);
      const created = eventAbout("customer.subscription.created", first, customer, false);
      const updated = eventAbout("customer.subscription.updated", second, customer, false);

      // Act
      const slowRun = slow.handleWebhook(delivery(created));
      await fetchDone;
      apply(customer, second);
      const fastAnswer = await fast.handleWebhook(delivery(updated));
      release();
      const slowAnswer = await slowRun;
      const afterRace = await stored(customer);
      const refusal = await ledgerReader(client, tableName).get(String(created.id));
      const retried = await fast.handleWebhook(delivery(created));

      // Assess
      expect(fastAnswer.statusCode).toBe(200);
      expect(slowAnswer.statusCode).toBe(500);
      expect(refusal).toMatchObject({ status: "failed", lastError: expect.stringMatching(/^EffectConditionFailedError/) });
      expect(afterRace).toEqual(await fromApi([subscription]));
      expect(retried.statusCode).toBe(200);
      expect(await stored(customer)).toEqual(await fromApi([subscription]));
    });
  });

  describe("property", () => {
    it(
      "random orders, duplicates and concurrency of a customer's events, while Stripe's state changes, end equal to the API",
      { timeout: 240_000 },
      async () => {
        await fc.assert(
          fc.asyncProperty(scenarioArb, async ({ lives, seed, legacyInvoices }) => {
            const random = seededRandom(seed);
            const customer = uniqueId("cus_prop");
            // Two function instances whose runs pause between the fetch and the commit, where races happen.
            const apps = [start(slowed(random)), start(slowed(random))];

            // Each subscription's changes in order, each with the event Stripe sends about it.
            const sequences = lives.map((life) => {
              const subscription = uniqueId("sub_prop");
              const at = (status: Stripe.Subscription.Status, state: typeof life.created): Change => ({
                subscription,
                status,
                price: state.price,
                periodEnd: state.periodEnd,
                cancelAtPeriodEnd: state.cancelAtPeriodEnd,
              });
              const steps: { type: CatalogEventType; change: Change }[] = [
                { type: "customer.subscription.created", change: at(life.created.pick % 2 === 0 ? "active" : "trialing", life.created) },
                ...life.steps.map((step) => {
                  const options = statusAfter[step.type];
                  return { type: step.type, change: at(options[step.state.pick % options.length] ?? "active", step.state) };
                }),
                ...(life.deleted ? [{ type: "customer.subscription.deleted" as const, change: at("canceled", life.deleted) }] : []),
              ];
              return { subscription, steps };
            });

            // Interleave the subscriptions' lives, keeping each one's order, a few ms apart.
            const cursors = sequences.map(() => 0);
            const timeline: { at: number; type: CatalogEventType; change: Change }[] = [];
            let at = 0;
            for (;;) {
              const open = sequences.map((_, index) => index).filter((index) => (cursors[index] ?? 0) < (sequences[index]?.steps.length ?? 0));
              if (open.length === 0) break;
              const index = open[randomInt(random, open.length)] ?? 0;
              const step = sequences[index]?.steps[cursors[index] ?? 0];
              cursors[index] = (cursors[index] ?? 0) + 1;
              if (!step) break;
              at += randomInt(random, 30);
              timeline.push({ at, ...step });
            }

            // Each change is made at Stripe, then its event is delivered one to three times, each
            // after its own delay: later changes and other deliveries overlap runs in flight.
            const events = timeline.map((entry) => ({
              ...entry,
              event: eventAbout(entry.type, entry.change, customer, legacyInvoices),
              delays: Array.from({ length: 1 + randomInt(random, 3) }, () => 1 + randomInt(random, 15)),
            }));
            const runs: Promise<unknown>[] = [];
            await new Promise<void>((allMade) => {
              let unmade = events.length;
              for (const entry of events) {
                setTimeout(() => {
                  apply(customer, entry.change);
                  for (const delay of entry.delays) {
                    const app = apps[randomInt(random, apps.length)];
                    runs.push(sleep(delay).then(() => app?.handleWebhook(delivery(entry.event))));
                  }
                  unmade -= 1;
                  if (unmade === 0) allMade();
                }, entry.at);
              }
            });
            await Promise.all(runs);

            // Stripe's retries and the reconciler: every event not yet processed runs again, side by
            // side at first (so they race too), then one at a time, as retries spread out.
            for (let round = 0; round < 20; round += 1) {
              const entries = await Promise.all(events.map((entry) => ledgerReader(client, tableName).get(String(entry.event.id))));
              const pending = events.filter((_, index) => entries[index]?.status !== "processed");
              if (pending.length === 0) break;
              const retry = (entry: (typeof events)[number], index: number) =>
                index % 2 === 0
                  ? apps[0]?.handleWebhook(delivery(entry.event))
                  : apps[1]?.processEvent(asStripeEvent(JSON.parse(JSON.stringify(entry.event))), "reconciler");
              if (round < 3) await Promise.all(pending.map(retry));
              else for (const [index, entry] of pending.entries()) await retry(entry, index);
            }

            // Assess
            const settled = await Promise.all(events.map((entry) => ledgerReader(client, tableName).get(String(entry.event.id))));
            expect(settled.map((entry) => entry?.status)).toEqual(events.map(() => "processed"));
            const expected = await fromApi(sequences.map((sequence) => sequence.subscription));
            expect(await stored(customer)).toEqual(expected);
            expect((await getEntitlement(client, tableName, customer))?.subscription.id).toBe(currentSubscription(expected)?.id);
          }),
          { numRuns: 12 },
        );
      },
    );
  });
});
