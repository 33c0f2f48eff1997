import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { HandlerRegistry } from "@stripe-webhooks/core/dispatch";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { createLedger, type LedgerEvent } from "@stripe-webhooks/core/ledger";
import { leaseSeconds, maxBodyBytes } from "@stripe-webhooks/core/limits";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { startDynalite, testAwsEnvironment, unreachableEndpoint } from "@stripe-webhooks/testing/engines";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { buildEvent, newWebhookSecret, signPayload, type BuildEventOptions } from "@stripe-webhooks/stripe-fixtures/events";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../src/logger.ts";
import { createWebhookHandler } from "../src/webhook-handler.ts";

/*
 * The function URL handler, driven through function URL events against real DynamoDB engines:
 * built by the composition root (`createWebhookHandler`) as the deployed entry builds it, and,
 * once, the deployed entry itself with the environment SST gives it in Lambda.
 */

const secret = newWebhookSecret();
// The secret being rotated out; the stage holds both during the overlap.
const previousSecret = newWebhookSecret();
const tableName = "webhook-ledger";

interface Loaded {
  invoke: (event: LambdaFunctionURLEvent) => Promise<{ statusCode: number; headers: Record<string, string>; body: Record<string, unknown> }>;
  handlers: HandlerRegistry;
  logs: string[];
}

// Powertools writes JSON lines straight to stdout/stderr; keep them for assertions.
function capturing(handler: (event: LambdaFunctionURLEvent) => Promise<unknown>, handlers: HandlerRegistry): Loaded {
  const logs: string[] = [];
  const invoke: Loaded["invoke"] = async (event) => {
    const capture = (chunk: unknown) => {
      logs.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, "write").mockImplementation(capture);
    const err = vi.spyOn(process.stderr, "write").mockImplementation(capture);
    try {
      const result = await handler(event);
      if (typeof result !== "object" || result === null) throw new Error("expected a structured result");
      const { statusCode, headers, body } = result as { statusCode: number; headers: Record<string, string>; body: string };
      return { statusCode, headers, body: JSON.parse(body) as Record<string, unknown> };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  };
  return { invoke, handlers, logs };
}

// The handler as the deployed entry composes it, over this engine, with a registry of its own to spy on.
function loadHandler(endpoint: string): Loaded {
  const handlers: HandlerRegistry = { ...entitlementHandlers };
  const handler = createWebhookHandler({
    dynamo: new DynamoDBClient({ endpoint, region: testAwsEnvironment.AWS_REGION, credentials: testCredentials }),
    settings: () => ({ webhookSecret: `${secret},${previousSecret}`, tableName, mode: "test", toleranceSeconds: undefined }),
    registry: handlers,
    logger: createLogger(),
  });
  return capturing(handler, handlers);
}

const testCredentials = {
  accessKeyId: testAwsEnvironment.AWS_ACCESS_KEY_ID,
  secretAccessKey: testAwsEnvironment.AWS_SECRET_ACCESS_KEY,
};

function urlEvent(init: { body?: string; headers?: Record<string, string>; method?: string; isBase64Encoded?: boolean }): LambdaFunctionURLEvent {
  const method = init.method ?? "POST";
  const userAgent = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: webhookPath,
    rawQueryString: "",
    headers: { host: "abc123.lambda-url.us-east-1.on.aws", "user-agent": userAgent, ...init.headers },
    requestContext: {
      accountId: "anonymous",
      apiId: "abc123",
      domainName: "abc123.lambda-url.us-east-1.on.aws",
      domainPrefix: "abc123",
      http: { method, path: webhookPath, protocol: "HTTP/1.1", sourceIp: "3.18.12.63", userAgent },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(init.body === undefined ? {} : { body: init.body }),
    isBase64Encoded: init.isBase64Encoded ?? false,
  };
}

interface Delivery {
  event: Record<string, unknown> & { id: string };
  payload: string;
  signature: string;
  request: LambdaFunctionURLEvent;
}

// What Stripe sends: the event pretty-printed, signed, as application/json.
function deliver(
  type: string,
  options: BuildEventOptions & { secret?: string; timestamp?: number; base64?: boolean; contentType?: string } = {},
): Delivery {
  const event = buildEvent(type, options) as Delivery["event"];
  const payload = JSON.stringify(event, null, 2);
  const signature = signPayload(payload, options.secret ?? secret, options.timestamp);
  const base64 = options.base64 ?? false;
  const request = urlEvent({
    body: base64 ? Buffer.from(payload, "utf8").toString("base64") : payload,
    isBase64Encoded: base64,
    headers: { "content-type": options.contentType ?? "application/json; charset=utf-8", "stripe-signature": signature },
  });
  return { event, payload, signature, request };
}

function facts(event: Delivery["event"]): LedgerEvent {
  return { id: event.id, type: String(event.type), livemode: false, apiVersion: null, created: Number(event.created) };
}

describeEachEngine("webhook handler", (engine) => {
  let client: DynamoDBClient;
  let loaded: Loaded;
  const ledgerEntry = (id: string) => ledgerReader(client, tableName).get(id);

  beforeAll(async () => {
    await engine().createLedgerTable(tableName);
    client = engine().client();
    loaded = loadHandler(engine().endpoint);
  });

  afterAll(() => client.destroy());

  afterEach(() => vi.restoreAllMocks());

  describe("a new event", () => {
    it("runs its handler once, records it processed and answers 200", async () => {
      // Prepare
      const handler = vi.spyOn(loaded.handlers, "checkout.session.completed");
      const { event, request } = deliver("checkout.session.completed");

      // Act
      const response = await loaded.invoke(request);

      // Assess
      expect(response).toMatchObject({ statusCode: 200, headers: { "content-type": "application/json" }, body: { result: "processed" } });
      expect(handler).toHaveBeenCalledTimes(1);
      expect(await ledgerEntry(event.id)).toMatchObject({
        type: "checkout.session.completed",
        status: "processed",
        attempts: 1,
        livemode: false,
        outcome: expect.stringContaining("no subscription on payment checkout session"),
      });
    });

    it("records the Connect account of an event from a connected account", async () => {
      const { event, request } = deliver("invoice.paid", { account: "acct_1Connected" });

      await loaded.invoke(request);

      expect(await ledgerEntry(event.id)).toMatchObject({ status: "processed", account: "acct_1Connected" });
    });

    it("accepts a base64-encoded body and verifies the decoded bytes, multi-byte characters included", async () => {
      const { event, request } = deliver("invoice.paid", { base64: true, object: { description: "Café ☕ – ünïcode" } });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 200, body: { result: "processed" } });
      expect((await ledgerEntry(event.id))?.status).toBe("processed");
    });
  });

  describe("a duplicate", () => {
    it("of a processed event answers 200 without running the handler again", async () => {
      const handler = vi.spyOn(loaded.handlers, "invoice.paid");
      const delivery = deliver("invoice.paid");
      await loaded.invoke(delivery.request);

      const response = await loaded.invoke({ ...delivery.request, requestContext: { ...delivery.request.requestContext, requestId: randomUUID() } });

      expect(response).toMatchObject({ statusCode: 200, body: { result: "duplicate" } });
      expect(handler).toHaveBeenCalledTimes(1);
      expect(await ledgerEntry(delivery.event.id)).toMatchObject({ status: "processed", attempts: 1 });
    });

    it("while another delivery holds the lease answers 409, never 500, and runs nothing", async () => {
      // Prepare: another invocation has claimed the event and is still running.
      const handler = vi.spyOn(loaded.handlers, "invoice.paid");
      const { event, request } = deliver("invoice.paid");
      await createLedger(client, tableName).claim(facts(event));

      // Act
      const response = await loaded.invoke(request);

      // Assess
      expect(response).toMatchObject({ statusCode: 409, body: { error: "in_progress" } });
      expect(handler).not.toHaveBeenCalled();
      expect(await ledgerEntry(event.id)).toMatchObject({ status: "processing", attempts: 1 });
    });
  });

  describe("retries", () => {
    it("reclaim an event whose lease expired (a crashed invocation) and process it", async () => {
      const { event, request } = deliver("customer.subscription.created");
      const crashedAt = Date.now() - (leaseSeconds + 1) * 1000;
      await createLedger(client, tableName, { now: () => crashedAt }).claim(facts(event));

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 200, body: { result: "processed" } });
      expect(await ledgerEntry(event.id)).toMatchObject({ status: "processed", attempts: 2 });
    });

    it("after a handler failure (500, recorded failed) process the event exactly once", async () => {
      // Prepare: the handler fails on the first delivery only.
      const handler = vi.spyOn(loaded.handlers, "invoice.paid").mockRejectedValueOnce(new Error("CRM timed out"));
      const { event, request } = deliver("invoice.paid");

      // Act
      const failed = await loaded.invoke(request);
      const afterFailure = await ledgerEntry(event.id);
      const retried = await loaded.invoke(request);
      const again = await loaded.invoke(request);

      // Assess
      expect(failed).toMatchObject({ statusCode: 500, body: { error: "handler_failed" } });
      expect(JSON.stringify(failed.body)).not.toContain("CRM");
      expect(afterFailure).toMatchObject({ status: "failed", attempts: 1, lastError: "Error: CRM timed out" });
      expect(retried).toMatchObject({ statusCode: 200, body: { result: "processed" } });
      expect(again).toMatchObject({ statusCode: 200, body: { result: "duplicate" } });
      expect(handler).toHaveBeenCalledTimes(2);
      expect(await ledgerEntry(event.id)).toMatchObject({ status: "processed", attempts: 2 });
    });
  });

  describe("an event type outside the catalog", () => {
    it("is recorded ignored and answered 200, also when redelivered", async () => {
      const { event, request } = deliver("customer.created");

      const first = await loaded.invoke(request);
      const again = await loaded.invoke(request);

      expect(first).toMatchObject({ statusCode: 200, body: { result: "ignored" } });
      expect(again).toMatchObject({ statusCode: 200, body: { result: "duplicate" } });
      expect(await ledgerEntry(event.id)).toMatchObject({ type: "customer.created", status: "ignored", attempts: 1 });
    });
  });

  describe("livemode", () => {
    it("refuses a live event on a test stage with 422, logs a misconfiguration and records nothing", async () => {
      const { event, request } = deliver("invoice.paid", { livemode: true });
      loaded.logs.length = 0;

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 422, body: { error: "livemode_mismatch" } });
      expect(await ledgerEntry(event.id)).toBeUndefined();
      const line = loaded.logs.map((text) => JSON.parse(text) as Record<string, unknown>).find((log) => log.eventId === event.id);
      expect(line).toMatchObject({ level: "ERROR", message: expect.stringContaining("Misconfiguration"), outcome: "livemode_mismatch" });
    });
  });

  describe("secret rotation", () => {
    it("accepts a delivery signed with the secret being rotated out", async () => {
      const { event, request } = deliver("invoice.paid", { secret: previousSecret });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 200, body: { result: "processed" } });
      expect((await ledgerEntry(event.id))?.status).toBe("processed");
    });

    it("refuses a delivery signed with any other secret", async () => {
      const { event, request } = deliver("invoice.paid", { secret: newWebhookSecret() });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 400, body: { error: "invalid_signature" } });
      expect(await ledgerEntry(event.id)).toBeUndefined();
    });
  });

  describe("refusals, none of which touch the ledger", () => {
    it("405 for a method other than POST, with Allow", async () => {
      const response = await loaded.invoke(urlEvent({ method: "GET" }));

      expect(response).toMatchObject({ statusCode: 405, headers: { allow: "POST" }, body: { error: "method_not_allowed" } });
    });

    it("415 for a body that is not JSON", async () => {
      const { event, request } = deliver("invoice.paid", { contentType: "application/x-www-form-urlencoded" });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 415, body: { error: "unsupported_media_type" } });
      expect(await ledgerEntry(event.id)).toBeUndefined();
    });

    it("413 for a body over the cap, signed or not", async () => {
      const body = JSON.stringify({ padding: "x".repeat(maxBodyBytes) });
      const request = urlEvent({ body, headers: { "content-type": "application/json", "stripe-signature": signPayload(body, secret) } });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 413, body: { error: "payload_too_large" } });
    });

    it("400 without a Stripe-Signature header", async () => {
      const { event, request } = deliver("invoice.paid");
      delete request.headers["stripe-signature"];

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 400, body: { error: "invalid_signature", message: expect.stringContaining("missing") } });
      expect(await ledgerEntry(event.id)).toBeUndefined();
    });

    it("400 for a signature older than the tolerance (a replay)", async () => {
      const { event, request } = deliver("invoice.paid", { timestamp: Math.floor(Date.now() / 1000) - 301 });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 400, body: { error: "invalid_signature", message: expect.stringContaining("tolerance") } });
      expect(await ledgerEntry(event.id)).toBeUndefined();
    });

    it("400 for a signature from the future", async () => {
      const { request } = deliver("invoice.paid", { timestamp: Math.floor(Date.now() / 1000) + 600 });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 400, body: { error: "invalid_signature", message: expect.stringContaining("future") } });
    });

    it("400 for a body re-serialized after signing", async () => {
      const { event, request } = deliver("invoice.paid");

      const response = await loaded.invoke({ ...request, body: JSON.stringify(event) });

      expect(response).toMatchObject({ statusCode: 400, body: { error: "invalid_signature" } });
    });

    it("400 for a validly signed body that is not a Stripe event", async () => {
      const body = JSON.stringify({ hello: "world" });
      const request = urlEvent({ body, headers: { "content-type": "application/json", "stripe-signature": signPayload(body, secret) } });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 400, body: { error: "malformed_event" } });
    });

    it("400 for a validly signed body that is not JSON", async () => {
      const body = "{definitely not json";
      const request = urlEvent({ body, headers: { "content-type": "application/json", "stripe-signature": signPayload(body, secret) } });

      const response = await loaded.invoke(request);

      expect(response).toMatchObject({ statusCode: 400, body: { error: "malformed_event" } });
      expect(loaded.logs.join("")).not.toContain("definitely not json");
    });
  });

  describe("logs", () => {
    it("are JSON lines with id, type, outcome, attempts and duration, and never hold a secret, the signature or the payload", async () => {
      // Prepare
      loaded.logs.length = 0;
      const { event, payload, signature, request } = deliver("invoice.payment_failed");

      // Act
      await loaded.invoke(request);

      // Assess
      const lines = loaded.logs.map((text) => JSON.parse(text) as Record<string, unknown>);
      expect(lines.find((line) => line.message === "Stripe webhook handled")).toMatchObject({
        service: "stripe-webhooks",
        eventId: event.id,
        eventType: "invoice.payment_failed",
        outcome: "processed",
        attempts: 1,
        statusCode: 200,
        durationMs: expect.any(Number),
        requestId: request.requestContext.requestId,
      });
      const text = loaded.logs.join("");
      for (const forbidden of [secret, previousSecret, signature, signature.split(",")[1] ?? signature, payload.slice(0, 80)]) {
        expect(text).not.toContain(forbidden);
      }
    });
  });
});

describe("webhook handler with DynamoDB down", () => {
  it("answers 500, runs no handler, and says only that it is unavailable", async () => {
    // Prepare
    const loaded = loadHandler(await unreachableEndpoint());
    const handler = vi.spyOn(loaded.handlers, "invoice.paid");
    const { request } = deliver("invoice.paid");

    // Act
    const response = await loaded.invoke(request);

    // Assess
    expect(response).toEqual({
      statusCode: 500,
      headers: { "content-type": "application/json" },
      body: { error: "ledger_unavailable", message: "Temporarily unavailable; retry later." },
    });
    expect(handler).not.toHaveBeenCalled();
    expect(loaded.logs.join("")).toContain("LedgerUnavailableError");
  });
});

describe("the deployed entry (packages/functions/src/webhook.ts)", () => {
  // The one test of SST's wiring in Lambda: the default reads its links through `Resource` from
  // the SST_RESOURCE_* variables and the mode from STRIPE_MODE, on the first request.
  it("reads its secret and ledger from the SST links and processes a delivery signed with either secret", async () => {
    const engine = await startDynalite();
    const table = await engine.createLedgerTable("linked-ledger");
    Object.assign(process.env, testAwsEnvironment, {
      SST_RESOURCE_App: JSON.stringify({ name: "stripe-webhooks", stage: "test" }),
      SST_RESOURCE_StripeWebhookSecret: JSON.stringify({ type: "sst.sst.Secret", value: `${secret},${previousSecret}` }),
      SST_RESOURCE_Ledger: JSON.stringify({ type: "sst.sst.Linkable", name: table }),
      SST_RESOURCE_StripeApiKey: JSON.stringify({ type: "sst.sst.Secret", value: "rk_test_linkedButUnused" }),
      STRIPE_MODE: "test",
      AWS_ENDPOINT_URL_DYNAMODB: engine.endpoint,
    });
    const client = engine.client();
    try {
      const { handler } = await import("../src/webhook.ts");
      const loaded = capturing(handler, entitlementHandlers);
      const current = deliver("invoice.paid");
      const rotated = deliver("invoice.paid", { secret: previousSecret });

      const answers = [await loaded.invoke(current.request), await loaded.invoke(rotated.request)];

      expect(answers.map((answer) => answer.body)).toEqual([{ result: "processed" }, { result: "processed" }]);
      expect(await ledgerReader(client, table).get(current.event.id)).toMatchObject({ status: "processed", attempts: 1 });
      expect(await ledgerReader(client, table).get(rotated.event.id)).toMatchObject({ status: "processed", attempts: 1 });
    } finally {
      client.destroy();
      await engine.stop();
    }
  });
});
