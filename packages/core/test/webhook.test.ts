import { PutItemCommand, ProvisionedThroughputExceededException, ScanCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HandlerRegistry } from "../src/dispatch.ts";
import { ConfigurationError } from "../src/errors.ts";
import { entitlementHandlers } from "../src/handlers.ts";
import { createLedger, type Ledger } from "../src/ledger.ts";
import { leaseSeconds } from "../src/limits.ts";
import { loadWebhookConfig, type WebhookConfig } from "../src/settings.ts";
import { handleWebhook, type WebhookDependencies } from "../src/webhook.ts";
import type { WebhookRequest } from "../src/request.ts";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { countRequests } from "@stripe-webhooks/testing/engines";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { recordingLogger, type LogLine } from "@stripe-webhooks/testing/recording-logger";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";

const secret = newWebhookSecret();
const config: WebhookConfig = loadWebhookConfig({ secret, mode: "test", toleranceSeconds: undefined });

function delivery(event: Record<string, unknown>): { request: WebhookRequest; payload: string; signature: string } {
  const payload = JSON.stringify(event, null, 2);
  const signature = signPayload(payload, secret);
  return {
    payload,
    signature,
    request: {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": signature },
      body: payload,
      isBase64Encoded: false,
      requestId: "req-1",
    },
  };
}

function dependencies(ledger: Ledger, overrides: Partial<WebhookDependencies> = {}): WebhookDependencies & { lines: LogLine[] } {
  const { logger, lines } = recordingLogger();
  return { settings: () => ({ config, ledger }), registry: entitlementHandlers, logger, lines, ...overrides };
}

// A registry whose `invoice.paid` handler runs `body` instead of the example.
function withInvoicePaid(body: HandlerRegistry["invoice.paid"]): HandlerRegistry {
  return { ...entitlementHandlers, "invoice.paid": body };
}

// Makes the client fail the `nth` (1-based) send of `command` the way DynamoDB throttles.
function throttle(client: DynamoDBClient, command: string, nth: number): void {
  let seen = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === command) {
        seen += 1;
        if (seen === nth) throw new ProvisionedThroughputExceededException({ message: "Rate exceeded", $metadata: {} });
      }
      return next(args);
    },
    { step: "initialize", name: "testThrottle" },
  );
}

describeEachEngine("pipeline", (engine) => {
  let tableName: string;
  let client: DynamoDBClient;

  beforeAll(async () => {
    tableName = await engine().createLedgerTable();
    client = engine().client();
  });

  afterAll(() => client.destroy());

  describe("DynamoDB requests per event", () => {
    it("are 2 for a new event, 1 for a duplicate (2 where the engine ignores ALL_OLD), 1 for an unhandled type", async () => {
      // Prepare
      const counted = engine().client();
      const requests = countRequests(counted);
      const deps = dependencies(createLedger(counted, tableName));
      const handled = delivery(buildEvent("invoice.paid"));
      const unhandled = delivery(buildEvent("customer.created"));

      // Act
      const first = await handleWebhook(handled.request, deps);
      const forNew = Object.fromEntries(requests.byCommand);
      requests.reset();
      const second = await handleWebhook(handled.request, deps);
      const forDuplicate = requests.total;
      requests.reset();
      await handleWebhook(unhandled.request, deps);
      const forUnhandled = requests.total;
      counted.destroy();

      // Assess
      expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
      expect(forNew).toEqual({ UpdateItemCommand: 2 });
      expect(forDuplicate).toBe(engine().returnsItemOnConditionFailure ? 1 : 2);
      expect(forUnhandled).toBe(1);
    });
  });

  describe("DynamoDB failures", () => {
    it("answer 500 when the claim is throttled, run nothing and record nothing", async () => {
      // Prepare
      const faulty = engine().client();
      throttle(faulty, "UpdateItemCommand", 1);
      let ran = 0;
      const deps = dependencies(createLedger(faulty, tableName), {
        registry: withInvoicePaid(async () => {
          ran += 1;
          return { outcome: "ran" };
        }),
      });
      const event = buildEvent("invoice.paid");

      // Act
      const response = await handleWebhook(delivery(event).request, deps);
      faulty.destroy();

      // Assess
      expect(response.statusCode).toBe(500);
      expect(JSON.parse(response.body)).toEqual({ error: "ledger_unavailable", message: "Temporarily unavailable; retry later." });
      expect(ran).toBe(0);
      expect(await ledgerReader(client, tableName).get(String(event.id))).toBeUndefined();
      expect(deps.lines.at(-1)).toMatchObject({ level: "error", attributes: { outcome: "ledger_unavailable", statusCode: 500 } });
    });

    it("answer 500 when the result cannot be recorded, leaving the lease to expire so a retry runs again", async () => {
      const faulty = engine().client();
      throttle(faulty, "UpdateItemCommand", 2);
      const deps = dependencies(createLedger(faulty, tableName));
      const event = buildEvent("invoice.paid");

      const response = await handleWebhook(delivery(event).request, deps);
      faulty.destroy();

      expect(response.statusCode).toBe(500);
      expect(await ledgerReader(client, tableName).get(String(event.id))).toMatchObject({ status: "processing", attempts: 1 });
    });
  });

  describe("lease", () => {
    it("answers 409 when the handler outlived its lease and a newer delivery took the event over", async () => {
      // Prepare: while the handler runs, a second delivery (one lease later) reclaims the event.
      const event = buildEvent("invoice.paid");
      const later = createLedger(client, tableName, { now: () => Date.now() + (leaseSeconds + 1) * 1000 });
      const deps = dependencies(createLedger(client, tableName), {
        registry: withInvoicePaid(async (paid) => {
          await later.claim({ id: paid.id, type: paid.type, livemode: false, apiVersion: null, created: paid.created });
          return { outcome: "slow" };
        }),
      });

      // Act
      const response = await handleWebhook(delivery(event).request, deps);

      // Assess
      expect(response.statusCode).toBe(409);
      expect(JSON.parse(response.body)).toMatchObject({ error: "lease_lost" });
      expect(await ledgerReader(client, tableName).get(String(event.id))).toMatchObject({ status: "processing", attempts: 2 });
    });
  });

  describe("envelopes that are not Stripe events", () => {
    // What holders of the secret could send before the envelope was checked: keys of the ledger's
    // other item kinds, ids and types past DynamoDB's and the tools' limits, fields the ledger
    // could not store.
    const cases: [string, (event: Record<string, unknown>) => void, string][] = [
      ["the reconciler's state key as id", (e) => (e.id = "reconciler#local"), "invalid-id"],
      ["an effects key as id", (e) => (e.id = "app#entitlement#cus_x"), "invalid-id"],
      ["an id that is not an event id", (e) => (e.id = "not-an-event-id"), "invalid-id"],
      ["an id of 3,000 characters", (e) => (e.id = `evt_${"x".repeat(2996)}`), "invalid-id"],
      ["no api_version key", (e) => delete e.api_version, "invalid-api-version"],
      ["created: 1e20", (e) => (e.created = 1e20), "invalid-created"],
      ["a type of 100,000 characters", (e) => (e.type = "a".repeat(100_000)), "invalid-type"],
    ];

    async function scan(): Promise<string> {
      const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
      return JSON.stringify(Items.map((item) => JSON.stringify(item)).sort());
    }

    beforeAll(async () => {
      // The items those keys name, so that a write to either would show in the scan.
      for (const pk of ["reconciler#local", "app#entitlement#cus_x"]) {
        await client.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: pk }, marker: { S: "untouched" } } }));
      }
    });

    it.each(cases)("answer 400 malformed_event for %s: nothing written, no handler run, one WARN line", async (_, change, reason) => {
      // Prepare
      const event: Record<string, unknown> = buildEvent("invoice.paid");
      change(event);
      let ran = 0;
      const deps = dependencies(createLedger(client, tableName), {
        registry: withInvoicePaid(async () => {
          ran += 1;
          return { outcome: "ran" };
        }),
      });
      const before = await scan();

      // Act
      const response = await handleWebhook(delivery(event).request, deps);

      // Assess
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body)).toMatchObject({ error: "malformed_event" });
      expect(ran).toBe(0);
      expect(await scan()).toBe(before);
      expect(deps.lines).toHaveLength(1);
      expect(deps.lines[0]).toMatchObject({ level: "warn", attributes: { outcome: "malformed_event", reason } });
      // The offending value cut short, and nowhere in full.
      const logged = JSON.stringify(deps.lines);
      expect(logged.length).toBeLessThan(1_500);
      expect(String(deps.lines[0]?.attributes.value).length).toBeLessThanOrEqual(80);
      expect(deps.lines[0]?.attributes.eventId).toBeUndefined();
    });
  });

  describe("a ledger request DynamoDB rejects as invalid", () => {
    it("answers 500 ledger_rejected, not retry later, and logs an ERROR naming the DynamoDB operation", async () => {
      // Prepare: a table name DynamoDB's validation refuses (a name may not hold a blank).
      const deps = dependencies(createLedger(client, "not a table name"));

      // Act
      const response = await handleWebhook(delivery(buildEvent("invoice.paid")).request, deps);

      // Assess
      expect(response.statusCode).toBe(500);
      const body = JSON.parse(response.body) as { error: string; message: string };
      expect(body.error).toBe("ledger_rejected");
      expect(body.message).not.toMatch(/retry/i);
      expect(deps.lines.at(-1)).toMatchObject({
        level: "error",
        attributes: { outcome: "ledger_rejected", operation: "claim", dynamoOperation: "UpdateItem" },
      });
    });
  });

  describe("logs", () => {
    it("end each request with one line: event id, type, outcome, attempts, duration; never secret, signature or payload", async () => {
      // Prepare
      const event = buildEvent("invoice.payment_failed");
      const { request, payload, signature } = delivery(event);
      const deps = dependencies(createLedger(client, tableName));

      // Act
      await handleWebhook(request, deps);

      // Assess
      const summary = deps.lines.at(-1);
      expect(summary).toMatchObject({
        level: "info",
        message: "Stripe webhook handled",
        attributes: { requestId: "req-1", eventId: event.id, eventType: "invoice.payment_failed", outcome: "processed", attempts: 1, statusCode: 200 },
      });
      expect(summary?.attributes.durationMs).toEqual(expect.any(Number));
      expect(deps.lines[0]?.attributes).toMatchObject({ eventId: event.id, eventType: "invoice.payment_failed" });
      const logged = JSON.stringify(deps.lines);
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(signature.split(",")[1]);
      expect(logged).not.toContain(payload.slice(0, 120));
    });
  });
});

describe("settings", () => {
  const ledger: Ledger = {
    claim: () => Promise.reject(new Error("unused")),
    recordIgnored: () => Promise.reject(new Error("unused")),
    complete: () => Promise.reject(new Error("unused")),
    fail: () => Promise.reject(new Error("unused")),
    get: () => Promise.reject(new Error("unused")),
    list: () => Promise.reject(new Error("unused")),
    readAppItem: () => Promise.reject(new Error("unused")),
    recordQueued: () => Promise.reject(new Error("unused")),
    recordDeferral: () => Promise.reject(new Error("unused")),
    recordDeadLettered: () => Promise.reject(new Error("unused")),
    releaseLease: () => Promise.reject(new Error("unused")),
  };

  it("answer 500 and log a misconfiguration when the resources cannot be read", async () => {
    const deps = dependencies(ledger, {
      settings: () => {
        throw new Error('"StripeWebhookSecret" is not linked in your sst.config.ts');
      },
    });

    const response = await handleWebhook(delivery(buildEvent("invoice.paid")).request, deps);

    expect(response.statusCode).toBe(500);
    expect(deps.lines.at(-1)).toMatchObject({
      level: "error",
      attributes: { error: expect.stringContaining("ConfigurationError"), cause: expect.stringContaining("not linked") },
    });
  });

  it("are not needed to refuse a request that is not a webhook", async () => {
    const deps = dependencies(ledger, {
      settings: () => {
        throw new Error("not linked");
      },
    });

    const response = await handleWebhook({ method: "GET", headers: {}, body: undefined, isBase64Encoded: false }, deps);

    expect(response.statusCode).toBe(405);
  });

  describe("loadWebhookConfig", () => {
    it("defaults to test mode and stripe's tolerance, and splits rotation secrets", () => {
      const loaded = loadWebhookConfig({ secret: "whsec_new, whsec_old", mode: undefined, toleranceSeconds: undefined });

      expect(loaded).toEqual({ secrets: ["whsec_new", "whsec_old"], mode: "test", toleranceSeconds: 300, futureSkewSeconds: 60 });
    });

    it("reads live mode and a configured tolerance", () => {
      const loaded = loadWebhookConfig({ secret: "whsec_a", mode: "live", toleranceSeconds: "600" });

      expect(loaded).toMatchObject({ mode: "live", toleranceSeconds: 600 });
    });

    it.each([
      ["no secret", { secret: undefined, mode: "test", toleranceSeconds: undefined }],
      ["a blank secret", { secret: " , ", mode: "test", toleranceSeconds: undefined }],
      ["an API key instead of a signing secret", { secret: "sk_live_123", mode: "test", toleranceSeconds: undefined }],
      ["an unknown mode", { secret: "whsec_a", mode: "production", toleranceSeconds: undefined }],
      ["a zero tolerance (stripe would skip the age check)", { secret: "whsec_a", mode: "test", toleranceSeconds: "0" }],
      ["a tolerance that is not a number", { secret: "whsec_a", mode: "test", toleranceSeconds: "5m" }],
    ])("refuses %s", (_, raw) => {
      expect(() => loadWebhookConfig(raw)).toThrow(ConfigurationError);
    });

    it("never echoes a misplaced secret value", () => {
      const error = (() => {
        try {
          loadWebhookConfig({ secret: "sk_live_abcdef", mode: "test", toleranceSeconds: undefined });
        } catch (caught) {
          return caught;
        }
      })();

      expect(String(error)).not.toContain("abcdef");
    });
  });
});
