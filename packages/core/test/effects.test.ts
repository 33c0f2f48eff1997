import { randomBytes } from "node:crypto";
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { recordingLogger, type LogLine } from "@stripe-webhooks/testing/recording-logger";
import { createWebhookApp, type WebhookApp } from "../src/app.ts";
import { eventCatalog } from "../src/catalog.ts";
import type { CatalogEvent, HandlerContext, HandlerRegistry, HandlerResult } from "../src/dispatch.ts";
import { createEffectStager, InvalidEffectError, maxStagedEffects } from "../src/effects.ts";
import { StripeRequestRefusedError } from "../src/errors.ts";
import { createLedger } from "../src/ledger.ts";
import { leaseSeconds } from "../src/limits.ts";
import { summaryMessages } from "../src/outcomes.ts";
import { idempotencyKey, maxIdempotencyKeyLength } from "../src/process-event.ts";
import type { WebhookRequest } from "../src/request.ts";
import { callStripe } from "../src/stripe-api.ts";
import { asStripeEvent } from "../src/verify.ts";
import { signedDelivery } from "@stripe-webhooks/testing/deliveries";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { countRequests } from "@stripe-webhooks/testing/engines";
import { startStripeApiDouble, type StripeApiDouble, type StripeApiFault } from "@stripe-webhooks/testing/stripe-api-double";
import { buildEvent, newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";

/*
 * Staged effects through the whole pipeline (createWebhookApp, as the deployed entry builds it) on
 * both DynamoDB engines, with handlers that call the test kit's double of Stripe's API through the
 * real `stripe` SDK.
 *
 * DynamoDB Local supports TransactWriteItems, so there the effects commit in one transaction with
 * the fenced completion, as on AWS. dynalite has no transactions: the app runs there with
 * `ledger: { transactions: false }` (what the local receiver does), which writes the effects one
 * by one and then the completion. A crash between those writes repeats the effects on the retry,
 * and one effect's failed condition cannot undo the writes before it; so the crash and
 * multi-effect atomicity cases run on DynamoDB Local only, and dynalite shows the repetition.
 */

const apiKey = `sk_test_${randomBytes(16).toString("hex")}`;
// A restricted key that may read subscriptions but not create refunds: a key missing a permission.
const subscriptionsOnlyKey = `rk_test_${randomBytes(16).toString("hex")}`;
const secret = newWebhookSecret();
const leaseMs = leaseSeconds * 1000;


const delivery = (event: Record<string, unknown>): WebhookRequest => signedDelivery(event, secret);

type Body = (event: CatalogEvent, context: HandlerContext) => Promise<HandlerResult>;

// A test-only registry: every catalog type runs `body`, which reads only the envelope.
function registryOf(body: Body): HandlerRegistry {
  return Object.fromEntries(eventCatalog.map((type) => [type, body])) as unknown as HandlerRegistry;
}

const counterKey = (eventId: string) => `app#test#count#${eventId}`;
const recordKey = (eventId: string) => `app#test#refund#${eventId}`;

/** How the refunding handler calls Stripe and what it does when Stripe refuses the refund. */
interface RefundOptions {
  /** Through `callStripe` (the recommended way) or the SDK's own error. Default true. */
  wrap?: boolean;
  /** Runs right after the refund was created, before anything is staged (a crash point). */
  afterRefund?: () => void;
}

// The handler of the exactly-once cases: a refund at Stripe (a call that creates something, so
// it carries the event's idempotency key), a counter that a repeated effect would push past 1,
// and a record of the refund. A refused refund (a card error) is the handler's to decide: it
// records the refusal and the event is done.
function refundingHandler(options: RefundOptions = {}): Body {
  return async (event, context) => {
    const create = () =>
      context.stripe.refunds.create(
        { payment_intent: "pi_3TestRefund", amount: 500, metadata: { event: event.id } },
        { idempotencyKey: context.idempotencyKey("refund") },
      );
    let refund: Stripe.Refund;
    try {
      refund = options.wrap === false ? await create() : await callStripe("refunds.create", create);
    } catch (error) {
      if (!(error instanceof StripeRequestRefusedError) || error.code !== "card_declined") throw error;
      context.effects.put({ pk: recordKey(event.id), status: "declined" });
      return { outcome: "refund declined" };
    }
    options.afterRefund?.();
    context.effects.update(
      { pk: counterKey(event.id) },
      { expression: "ADD #runs :one", names: { "#runs": "runs" }, values: { ":one": 1 } },
    );
    context.effects.put({ pk: recordKey(event.id), status: "refunded", refund: refund.id });
    return { outcome: `refunded ${refund.id}` };
  };
}

describe("staging", () => {
  it("refuses keys outside app#, a key staged twice, and more than a transaction holds", () => {
    const { stager, items } = createEffectStager("table");

    expect(() => stager.put({ pk: "evt_123" })).toThrow(InvalidEffectError);
    expect(() => stager.update({ pk: "user#1" }, { expression: "SET #a = :a" })).toThrow(/must be a string starting with "app#"/);
    expect(() => stager.delete({ pk: "APP#upper" })).toThrow(InvalidEffectError);
    expect(() => stager.check({ pk: "" }, { condition: "attribute_exists(pk)" })).toThrow(InvalidEffectError);
    stager.put({ pk: "app#once" });
    expect(() => stager.delete({ pk: "app#once" })).toThrow(/already staged/);
    for (let i = 1; i < maxStagedEffects; i += 1) stager.put({ pk: `app#many#${i}` });
    expect(() => stager.put({ pk: "app#one-too-many" })).toThrow(/At most 99/);
    expect(items()).toHaveLength(maxStagedEffects);
    expect(() => createEffectStager(undefined).stager.put({ pk: "app#x" })).toThrow(/no ledger table/);
  });

  it("makes idempotency keys from the event id and a purpose, within Stripe's 255 characters", () => {
    const eventId = "evt_1QxYzAbCdEfGhIjKlMnOpQr";
    const long = "refund for order ".repeat(30);

    expect(idempotencyKey(eventId, "refund")).toBe(`${eventId}:refund`);
    expect(idempotencyKey(eventId, long)).toBe(idempotencyKey(eventId, long));
    expect(idempotencyKey(eventId, long).length).toBeLessThanOrEqual(maxIdempotencyKeyLength);
    expect(idempotencyKey(eventId, long)).toMatch(new RegExp(`^${eventId}:sha256:[0-9a-f]{64}$`));
    expect(idempotencyKey(eventId, `${long}!`)).not.toBe(idempotencyKey(eventId, long));
    expect(() => idempotencyKey(eventId, "")).toThrow(InvalidEffectError);
  });
});

describeEachEngine("staged effects", (engine, definition) => {
  let tableName: string;
  let client: DynamoDBClient;
  let double: StripeApiDouble;
  const { transactions } = definition;

  beforeAll(async () => {
    tableName = await engine().createLedgerTable();
    client = engine().client();
    double = await startStripeApiDouble({ apiKeys: [apiKey, { key: subscriptionsOnlyKey, canRead: ["subscriptions"] }] });
  });

  afterAll(async () => {
    client.destroy();
    await double.close();
  });

  interface TestApp {
    app: WebhookApp;
    lines: LogLine[];
  }

  // One "process": an app over its own DynamoDB client, with the stage's key unless told otherwise.
  function start(
    registry: HandlerRegistry,
    options: { dynamo?: DynamoDBClient; now?: () => number; stripeApiKey?: string | null } = {},
  ): TestApp {
    const { logger, lines } = recordingLogger();
    const app = createWebhookApp({
      dynamo: options.dynamo ?? client,
      settings: () => ({
        webhookSecret: secret,
        mode: "test",
        tableName,
        // null: a stage without the StripeApiKey secret.
        stripeApiKey: options.stripeApiKey === null ? undefined : (options.stripeApiKey ?? apiKey),
        stripeApiBase: double.url,
      }),
      registry,
      logger,
      ...(options.now ? { now: options.now } : {}),
      ledger: { transactions },
    });
    return { app, lines };
  }

  // A process one lease later, as Stripe's retry (or the reconciler) meets a crashed one's event.
  const later = () => Date.now() + leaseMs + 1000;

  async function item(pk: string): Promise<Record<string, unknown> | undefined> {
    const result = await client.send(new GetItemCommand({ TableName: tableName, Key: marshall({ pk }), ConsistentRead: true }));
    return result.Item ? unmarshall(result.Item) : undefined;
  }

  async function seed(value: Record<string, unknown>): Promise<void> {
    await client.send(new PutItemCommand({ TableName: tableName, Item: marshall(value) }));
  }

  function newEvent(type: (typeof eventCatalog)[number] = "invoice.paid") {
    const event = buildEvent(type);
    return { event, id: String(event.id) };
  }

  // The refunds the double created for one event, and the idempotency keys its POSTs carried.
  function refundsOf(eventId: string) {
    const created = double.refunds().filter((refund) => (refund.metadata as Record<string, string>).event === eventId);
    const posts = double.requests.filter((request) => request.method === "POST" && request.form.get("metadata[event]") === eventId);
    return { created, keys: [...new Set(posts.map((request) => request.idempotencyKey))], posts: posts.length };
  }

  describe("commit", () => {
    it("writes staged put/update/delete (and check, with transactions) together with the completion", async () => {
      // Prepare
      const tag = randomBytes(4).toString("hex");
      await seed({ pk: `app#c#${tag}#updated`, n: 1 });
      await seed({ pk: `app#c#${tag}#deleted`, n: 1 });
      await seed({ pk: `app#c#${tag}#checked`, state: "open" });
      const { event, id } = newEvent();
      const { app } = start(
        registryOf(async (_event, { effects }) => {
          effects.put({ pk: `app#c#${tag}#created`, n: 1, nested: { list: [1, 2], missing: undefined } });
          effects.update({ pk: `app#c#${tag}#updated` }, { expression: "ADD #n :one", names: { "#n": "n" }, values: { ":one": 1 } });
          effects.delete({ pk: `app#c#${tag}#deleted` }, { condition: "attribute_exists(pk)" });
          // Condition checks need a transaction; writing them one by one refuses them.
          if (transactions) {
            effects.check({ pk: `app#c#${tag}#checked` }, { condition: "#s = :open", names: { "#s": "state" }, values: { ":open": "open" } });
          }
          return { outcome: "four effects" };
        }),
      );

      // Act
      const response = await app.handleWebhook(delivery(event));

      // Assess
      expect(response.statusCode).toBe(200);
      expect(await item(`app#c#${tag}#created`)).toEqual({ pk: `app#c#${tag}#created`, n: 1, nested: { list: [1, 2] } });
      expect(await item(`app#c#${tag}#updated`)).toEqual({ pk: `app#c#${tag}#updated`, n: 2 });
      expect(await item(`app#c#${tag}#deleted`)).toBeUndefined();
      expect(await item(`app#c#${tag}#checked`)).toEqual({ pk: `app#c#${tag}#checked`, state: "open" });
      expect(await ledgerReader(client, tableName).get(id)).toMatchObject({ status: "processed", outcome: "four effects", attempts: 1 });
    });

    it("costs a new event with a staged effect 2 DynamoDB requests: the claim and one TransactWriteItems (4 sequentially)", async () => {
      const counted = engine().client();
      const requests = countRequests(counted);
      const { event, id } = newEvent();
      const { app } = start(
        registryOf(async (_event, { effects }) => {
          effects.put({ pk: `app#cost#${id}` });
          return { outcome: "one effect" };
        }),
        { dynamo: counted },
      );

      const response = await app.handleWebhook(delivery(event));
      counted.destroy();

      expect(response.statusCode).toBe(200);
      // Sequentially (dynalite): the claim, a read of the claim, the effect, the completion.
      expect(Object.fromEntries(requests.byCommand)).toEqual(
        transactions
          ? { UpdateItemCommand: 1, TransactWriteItemsCommand: 1 }
          : { UpdateItemCommand: 2, GetItemCommand: 1, PutItemCommand: 1 },
      );
      expect(await item(`app#cost#${id}`)).toEqual({ pk: `app#cost#${id}` });
    });

    it("writes nothing when the claim was lost: the lease ran out and another delivery took the event over", async () => {
      // Prepare: while the handler runs, a delivery one lease later claims the event.
      const { event, id } = newEvent();
      const takeover = createLedger(client, tableName, { now: later });
      const { app } = start(
        registryOf(async (handled, { effects }) => {
          effects.put({ pk: `app#lost#${id}` });
          effects.update({ pk: counterKey(id) }, { expression: "ADD #runs :one", names: { "#runs": "runs" }, values: { ":one": 1 } });
          await takeover.claim({ id: handled.id, type: handled.type, livemode: false, apiVersion: null, created: handled.created });
          return { outcome: "too late" };
        }),
      );

      // Act
      const response = await app.handleWebhook(delivery(event));

      // Assess
      expect(response.statusCode).toBe(409);
      expect(JSON.parse(response.body)).toMatchObject({ error: "lease_lost" });
      expect(await item(`app#lost#${id}`)).toBeUndefined();
      expect(await item(counterKey(id))).toBeUndefined();
      expect(await ledgerReader(client, tableName).get(id)).toMatchObject({ status: "processing", attempts: 2 });
    });

    it("writes nothing and records the event failed when an effect's condition does not hold; the retry commits once", async () => {
      // Prepare: the last effect requires an item to be open, which it is not yet.
      const { event, id } = newEvent();
      await seed({ pk: `app#gate#${id}`, state: "closed" });
      const gate = { condition: "#s = :open", names: { "#s": "state" }, values: { ":open": "open" } };
      const { app, lines } = start(
        registryOf(async (_event, { effects }) => {
          // Sequentially, only the first effect's condition can keep the others from being written.
          if (transactions) {
            effects.put({ pk: `app#gated#${id}` });
            effects.update({ pk: counterKey(id) }, { expression: "ADD #runs :one", names: { "#runs": "runs" }, values: { ":one": 1 } });
          }
          effects.update(
            { pk: `app#gate#${id}` },
            { ...gate, expression: "SET #passed = :yes", names: { ...gate.names, "#passed": "passed" }, values: { ...gate.values, ":yes": true } },
          );
          return { outcome: "gated" };
        }),
      );

      // Act
      const refused = await app.handleWebhook(delivery(event));
      const afterRefusal = await ledgerReader(client, tableName).get(id);
      const untouched = [await item(`app#gated#${id}`), await item(counterKey(id)), await item(`app#gate#${id}`)];
      await seed({ pk: `app#gate#${id}`, state: "open" });
      const retried = await app.handleWebhook(delivery(event));
      const again = await app.handleWebhook(delivery(event));

      // Assess
      expect(refused.statusCode).toBe(500);
      expect(JSON.parse(refused.body)).toMatchObject({ error: "handler_failed" });
      expect(afterRefusal).toMatchObject({ status: "failed", attempts: 1 });
      expect(afterRefusal?.lastError).toMatch(/^EffectConditionFailedError: The condition of staged effect \d did not hold/);
      expect(untouched).toEqual([undefined, undefined, { pk: `app#gate#${id}`, state: "closed" }]);
      expect(lines.find((line) => line.attributes.outcome === "handler_failed")?.attributes.cause).toMatch(/EffectConditionFailedError/);
      expect([retried.statusCode, JSON.parse(again.body).result]).toEqual([200, "duplicate"]);
      expect(await item(`app#gate#${id}`)).toEqual({ pk: `app#gate#${id}`, state: "open", passed: true });
      if (transactions) expect(await item(counterKey(id))).toEqual({ pk: counterKey(id), runs: 1 });
      expect(await ledgerReader(client, tableName).get(id)).toMatchObject({ status: "processed", attempts: 2 });
    });

    it("refuses an effect on a key outside app# (the ledger's own items share the table): nothing written, recorded failed", async () => {
      const { event, id } = newEvent();
      const { app } = start(
        registryOf(async (_event, { effects }) => {
          effects.put({ pk: `app#before#${id}` });
          effects.put({ pk: `evt_forged_${id}`, status: "processed" });
          return { outcome: "unreachable" };
        }),
      );

      const response = await app.handleWebhook(delivery(event));

      expect(response.statusCode).toBe(500);
      expect(await item(`app#before#${id}`)).toBeUndefined();
      expect(await item(`evt_forged_${id}`)).toBeUndefined();
      expect(await ledgerReader(client, tableName).get(id)).toMatchObject({ status: "failed", lastError: expect.stringMatching(/^InvalidEffectError/) });
    });
  });

  describe("a crash between the handler's effect and the completion", () => {
    // A DynamoDB client that dies with its process: at `at`, and from then on every request fails.
    function mortalClient(at: "before-commit" | "after-commit" | "completion" | "never") {
      const mortal = engine().client();
      const state = { dead: false, completions: 0 };
      mortal.middlewareStack.add(
        (next, context) => async (args) => {
          if (state.dead) throw new Error("the process is gone");
          const committing = context.commandName === "TransactWriteItemsCommand";
          if (committing && at === "before-commit") {
            state.dead = true;
            throw new Error("the process died before sending the commit");
          }
          // Sequential mode's completion: the second write of the event's own item (after the claim).
          const input: object = args.input;
          const ownItem =
            context.commandName === "UpdateItemCommand" &&
            "Key" in input &&
            JSON.stringify(input.Key).includes('"S":"evt_');
          if (ownItem && at === "completion" && (state.completions += 1) === 2) {
            state.dead = true;
            throw new Error("the process died after the effects, before the completion");
          }
          const result = await next(args);
          if (committing && at === "after-commit") {
            state.dead = true;
            throw new Error("the process died before the commit's answer arrived");
          }
          return result;
        },
        { step: "initialize", name: "testMortality" },
      );
      return { client: mortal, kill: () => (state.dead = true) };
    }

    // Stripe's retries: deliveries from a new process, one lease later, until one is answered 200.
    async function retryUntilSettled(event: Record<string, unknown>): Promise<string[]> {
      const results: string[] = [];
      const { app } = start(registryOf(refundingHandler()), { now: later });
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await app.handleWebhook(delivery(event));
        const body = JSON.parse(response.body) as { result?: string; error?: string };
        results.push(body.result ?? body.error ?? "");
        if (response.statusCode === 200) break;
      }
      return results;
    }

    const points = [
      { name: "in the handler after the refund", at: "never", crashInHandler: true, retries: ["processed"] },
      { name: "before the commit is sent", at: "before-commit", crashInHandler: false, retries: ["processed"] },
      // The commit landed; the retry finds the event processed and runs nothing.
      { name: "after the commit, before its answer", at: "after-commit", crashInHandler: false, retries: ["duplicate"] },
    ] as const;

    // Transactions only (see the file's header): sequentially, the effects and the completion are separate
    // writes, so these cases are declared for DynamoDB Local only; dynalite's own case below shows the difference.
    if (transactions) {
      it.each(points)(
        "dying $name (transactions only): the effects apply exactly once after the retries, and Stripe refunds once",
        async (point) => {
          // Prepare
          const { event, id } = newEvent();
          const mortal = mortalClient(point.at);
          const dying = start(
            registryOf(
              refundingHandler({
                afterRefund: () => {
                  if (!point.crashInHandler) return;
                  mortal.kill();
                  throw new Error("the process died in the handler");
                },
              }),
            ),
            { dynamo: mortal.client },
          );

          // Act
          const first = await dying.app.handleWebhook(delivery(event));
          const afterCrash = await ledgerReader(client, tableName).get(id);
          const retries = await retryUntilSettled(event);
          mortal.client.destroy();

          // Assess
          expect(first.statusCode).toBe(500);
          expect(afterCrash?.status).toBe(point.at === "after-commit" ? "processed" : "processing");
          expect(retries).toEqual(point.retries);
          expect(await item(counterKey(id))).toEqual({ pk: counterKey(id), runs: 1 });
          expect(await item(recordKey(id))).toMatchObject({ status: "refunded" });
          expect(await ledgerReader(client, tableName).get(id)).toMatchObject({ status: "processed" });
          const refunds = refundsOf(id);
          expect(refunds.created).toHaveLength(1);
          expect(refunds.keys).toEqual([`${id}:refund`]);
          expect((await item(recordKey(id)))?.refund).toBe(refunds.created[0]?.id);
        },
      );
    }

    if (!transactions) {
      it(
        "sequential effects (dynalite): a crash after the effects, before the completion, repeats them: only transactions are exactly once",
        async () => {
          const { event, id } = newEvent();
          const mortal = mortalClient("completion");
          const dying = start(registryOf(refundingHandler()), { dynamo: mortal.client });

          const first = await dying.app.handleWebhook(delivery(event));
          const retries = await retryUntilSettled(event);
          mortal.client.destroy();

          expect(first.statusCode).toBe(500);
          expect(retries).toEqual(["processed"]);
          expect(await item(counterKey(id))).toEqual({ pk: counterKey(id), runs: 2 });
          // Stripe's side stays single all the same: the retry sent the same idempotency key.
          expect(refundsOf(id).created).toHaveLength(1);
        },
      );
    }
  });

  describe("idempotency keys", () => {
    it("are the same on every run of an event (webhook, reconciler, forced replay), and Stripe receives them", async () => {
      // Prepare: the first run fails after its refund, so the reconciler's run retries it.
      const { event, id } = newEvent("customer.subscription.updated");
      const seen: { attempt: number; keys: string[] }[] = [];
      const long = "x".repeat(300);
      const refund = refundingHandler();
      const { app, lines } = start(
        registryOf(async (handled, context) => {
          seen.push({ attempt: context.attempt, keys: [context.idempotencyKey("refund"), context.idempotencyKey(long)] });
          const result = await refund(handled, context);
          if (context.attempt === 1) throw new Error("the CRM timed out after the refund");
          return result;
        }),
      );
      const stripeEvent = asStripeEvent(JSON.parse(JSON.stringify(event)));

      // Act
      const webhook = await app.handleWebhook(delivery(event));
      const reconciled = await app.processEvent(stripeEvent, "reconciler");
      const replayed = await app.processEvent(stripeEvent, "replay", { force: true });

      // Assess
      expect(webhook.statusCode).toBe(500);
      expect([reconciled, replayed].map((result) => result.ok && result.outcome.kind)).toEqual(["processed", "processed"]);
      expect(lines.filter((line) => line.attributes.eventId === id && "outcome" in line.attributes).map((line) => line.attributes.source)).toEqual([
        "webhook",
        "reconciler",
        "replay",
      ]);
      expect(seen.map((run) => run.attempt)).toEqual([1, 2, 3]);
      const [first] = seen;
      expect(seen.every((run) => JSON.stringify(run.keys) === JSON.stringify(first?.keys))).toBe(true);
      expect(first?.keys[0]).toBe(`${id}:refund`);
      expect(first?.keys.every((key) => key.length <= maxIdempotencyKeyLength)).toBe(true);
      const refunds = refundsOf(id);
      expect(refunds.posts).toBe(3);
      expect(refunds.keys).toEqual([`${id}:refund`]);
      // Stripe ran the refund once and replayed its answer to the later runs.
      expect(refunds.created).toHaveLength(1);
      // A forced replay is a new run: its own effects apply again (the first run's were never committed).
      expect(await item(counterKey(id))).toEqual({ pk: counterKey(id), runs: 2 });
    });
  });

  describe("Stripe errors in a handler", () => {
    const retryable: { fault: StripeApiFault; times: number; wrap: boolean }[] = [
      // Stripe marks a rate limit not retryable, so the SDK gives up at once: the event is retried.
      { fault: "rate-limit", times: 1, wrap: true },
      { fault: "rate-limit", times: 1, wrap: false },
      // The SDK's own retries (two) are exhausted first.
      { fault: "api-error", times: 3, wrap: true },
      { fault: "close", times: 3, wrap: true },
    ];

    it.each(retryable)(
      "$fault (callStripe: $wrap) is retry-later: recorded failed, nothing written, and the retry refunds once",
      async ({ fault, times, wrap }) => {
        // Prepare
        const { event, id } = newEvent();
        const { app, lines } = start(registryOf(refundingHandler({ wrap })));
        double.failNext({ fault, times, path: "/v1/refunds" });

        // Act
        const failed = await app.handleWebhook(delivery(event));
        const afterFailure = await ledgerReader(client, tableName).get(id);
        const written = [await item(counterKey(id)), await item(recordKey(id))];
        const retried = await app.handleWebhook(delivery(event));

        // Assess
        expect(failed.statusCode).toBe(500);
        expect(JSON.parse(failed.body)).toMatchObject({ error: "handler_failed" });
        expect(afterFailure).toMatchObject({ status: "failed" });
        expect(written).toEqual([undefined, undefined]);
        expect(lines.find((line) => line.attributes.eventId === id && line.attributes.outcome === "handler_failed")).toMatchObject({
          level: "error",
          message: summaryMessages.failed,
          attributes: { stripeError: "retry-later", statusCode: 500 },
        });
        expect(retried.statusCode).toBe(200);
        expect(await item(counterKey(id))).toEqual({ pk: counterKey(id), runs: 1 });
        expect(refundsOf(id).created).toHaveLength(1);
      },
    );

    it.each([
      { name: "an API key Stripe does not know (401)", key: `sk_test_${randomBytes(16).toString("hex")}` },
      { name: "a restricted key without the refund permission (403)", key: subscriptionsOnlyKey },
    ])("$name is a misconfiguration: logged as such, nothing written, and healed by the retry once the key is fixed", async ({ key }) => {
      // Prepare
      const { event, id } = newEvent();
      const misconfigured = start(registryOf(refundingHandler()), { stripeApiKey: key });
      const fixed = start(registryOf(refundingHandler()));

      // Act
      const failed = await misconfigured.app.handleWebhook(delivery(event));
      const afterFailure = await ledgerReader(client, tableName).get(id);
      const written = [await item(counterKey(id)), await item(recordKey(id))];
      const retried = await fixed.app.handleWebhook(delivery(event));

      // Assess: still 500 (Stripe keeps retrying), but the line says what to fix.
      expect(failed.statusCode).toBe(500);
      expect(afterFailure).toMatchObject({ status: "failed", lastError: expect.stringMatching(/^StripeMisconfiguredError/) });
      expect(written).toEqual([undefined, undefined]);
      const summary = misconfigured.lines.find((line) => line.attributes.outcome === "handler_failed");
      expect(summary).toMatchObject({
        level: "error",
        message: summaryMessages.handlerMisconfigured,
        attributes: { stripeError: "misconfiguration", eventId: id },
      });
      expect(JSON.stringify(misconfigured.lines)).not.toContain(key);
      expect(retried.statusCode).toBe(200);
      expect(refundsOf(id).created).toHaveLength(1);
    });

    it("no API key at all is a misconfiguration too (not a Stripe error): nothing written, retried once the key is set", async () => {
      const { event, id } = newEvent();
      const keyless = start(registryOf(refundingHandler()), { stripeApiKey: null });

      const failed = await keyless.app.handleWebhook(delivery(event));
      const retried = await start(registryOf(refundingHandler())).app.handleWebhook(delivery(event));

      expect(failed.statusCode).toBe(500);
      const summary = keyless.lines.find((line) => line.attributes.outcome === "handler_failed");
      expect(summary).toMatchObject({ level: "error", message: summaryMessages.handlerMisconfigured });
      expect(summary?.attributes).not.toHaveProperty("stripeError");
      expect(summary?.attributes.cause).toMatch(/^ConfigurationError: Handlers have no Stripe API key/);
      expect(retried.statusCode).toBe(200);
      expect(await item(counterKey(id))).toEqual({ pk: counterKey(id), runs: 1 });
    });

    it("a card error (402) is the handler's to decide: this one records the refusal and the event is done", async () => {
      const { event, id } = newEvent();
      const { app, lines } = start(registryOf(refundingHandler()));
      double.failNext({ fault: "card-declined", path: "/v1/refunds" });

      const response = await app.handleWebhook(delivery(event));
      const again = await app.handleWebhook(delivery(event));

      expect(response.statusCode).toBe(200);
      expect(JSON.parse(again.body)).toEqual({ result: "duplicate" });
      expect(await item(recordKey(id))).toEqual({ pk: recordKey(id), status: "declined" });
      expect(await item(counterKey(id))).toBeUndefined();
      expect(await ledgerReader(client, tableName).get(id)).toMatchObject({ status: "processed", outcome: "refund declined", attempts: 1 });
      expect(lines.at(-2)).toMatchObject({ level: "info", attributes: { outcome: "processed" } });
      expect(refundsOf(id).created).toEqual([]);
    });
  });
});
