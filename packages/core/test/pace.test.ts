import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type Stripe from "stripe";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createWebhookApp } from "../src/app.ts";
import { loadRequestsPerSecond } from "../src/settings.ts";
import { ConfigurationError } from "../src/errors.ts";
import { entitlementHandlers } from "../src/handlers.ts";
import { consumerRequestsPerSecond } from "../src/limits.ts";
import { createPacer } from "../src/pace.ts";
import { createStripeClient, pacedHttpClient } from "../src/stripe-api.ts";
import { buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import { startStripeApiDouble, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";

/*
 * The queue consumer's pace of Stripe requests: each consumer instance spaces its requests so
 * that all instances together stay within the stage's budget. The pacer's timing is checked on
 * vitest's fake clock; the client against the test kit's Stripe API double (a double because
 * Stripe's servers cannot be reached from here), which answers 429 past Stripe's limit.
 */

afterEach(() => {
  vi.useRealTimers();
});

/** Starts `count` calls of `pace` at once and reports which have resolved. */
function startCalls(pace: () => Promise<void>, count: number): boolean[] {
  const resolved = new Array<boolean>(count).fill(false);
  for (let i = 0; i < count; i += 1) void pace().then(() => (resolved[i] = true));
  return resolved;
}

describe("createPacer", () => {
  it("lets the first call through at once and spaces the ones that arrive with it by the interval, in arrival order", async () => {
    vi.useFakeTimers();
    const pace = createPacer(5);
    const resolved = startCalls(pace, 3);

    await vi.advanceTimersByTimeAsync(0);
    expect(resolved).toEqual([true, false, false]);
    await vi.advanceTimersByTimeAsync(199);
    expect(resolved).toEqual([true, false, false]);
    await vi.advanceTimersByTimeAsync(1);
    expect(resolved).toEqual([true, true, false]);
    await vi.advanceTimersByTimeAsync(200);
    expect(resolved).toEqual([true, true, true]);
  });

  it("saves no burst while idle: after a quiet minute, two calls are still an interval apart", async () => {
    vi.useFakeTimers();
    const pace = createPacer(5);
    await pace();
    await vi.advanceTimersByTimeAsync(60_000);

    const resolved = startCalls(pace, 2);
    await vi.advanceTimersByTimeAsync(0);
    expect(resolved).toEqual([true, false]);
    await vi.advanceTimersByTimeAsync(200);
    expect(resolved).toEqual([true, true]);
  });

  it("refuses a pace that is not a positive number", () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createPacer(rate), String(rate)).toThrow(RangeError);
    }
  });
});

describe("consumerRequestsPerSecond", () => {
  it("divides the stage's budget among the consumers that may run at once", () => {
    expect(consumerRequestsPerSecond(20, 5)).toBe(4);
    expect(consumerRequestsPerSecond(80, 20)).toBe(4);
    expect(consumerRequestsPerSecond(25, 2)).toBe(12.5);
  });

  it("refuses a budget or a concurrency that cannot be divided", () => {
    expect(() => consumerRequestsPerSecond(0, 5)).toThrow(RangeError);
    expect(() => consumerRequestsPerSecond(20, 0)).toThrow(RangeError);
    expect(() => consumerRequestsPerSecond(20, 2.5)).toThrow(RangeError);
  });
});

describe("pacedHttpClient", () => {
  // Records when each request reaches the client underneath, and answers nothing useful: the
  // pacing, not the answer, is under test.
  function recordingClient(sent: string[]): Stripe.HttpClient {
    return {
      getClientName: () => "recording",
      makeRequest: async (_host, _port, path, method) => {
        sent.push(`${method} ${path}`);
        return await new Promise<never>(() => undefined);
      },
    };
  }

  it("paces reads and writes apart, as Stripe counts its limits: a write does not wait behind reads", async () => {
    vi.useFakeTimers();
    const sent: string[] = [];
    const client = pacedHttpClient(1, recordingClient(sent));
    const request = (method: string, path: string) => void client.makeRequest("api.stripe.com", "443", path, method, {}, "", "https", 1000);

    request("GET", "/v1/subscriptions/sub_1");
    request("GET", "/v1/subscriptions/sub_2");
    request("POST", "/v1/refunds");
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(["GET /v1/subscriptions/sub_1", "POST /v1/refunds"]);

    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual(["GET /v1/subscriptions/sub_1", "POST /v1/refunds", "GET /v1/subscriptions/sub_2"]);
  });
});

describe("a paced Stripe client against Stripe's rate limit", () => {
  const apiKey = `sk_test_${randomBytes(12).toString("hex")}`;
  let double: StripeApiDouble | undefined;

  afterEach(async () => {
    await double?.close();
    double = undefined;
  });

  async function burst(requestsPerSecond: number | undefined): Promise<{ failed: number; rateLimited: number }> {
    double = await startStripeApiDouble({ apiKeys: [apiKey], rateLimit: { mode: "test", readsPerSecond: 25 } });
    const event = buildEvent("invoice.paid", { id: "evt_paced", created: Math.floor(Date.now() / 1000) - 60 });
    double.addEvent(event);
    const stripe = createStripeClient({
      apiKey,
      apiBase: double.url,
      maxNetworkRetries: 0,
      ...(requestsPerSecond === undefined ? {} : { requestsPerSecond }),
    });
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => stripe.events.retrieve(String(event.id))));
    return { failed: results.filter((result) => result.status === "rejected").length, rateLimited: double.rateLimited() };
  }

  it("unpaced, a burst of 40 reads meets 429s from a limit of 25 a second", async () => {
    const { failed, rateLimited } = await burst(undefined);
    expect(rateLimited).toBeGreaterThan(0);
    expect(failed).toBe(rateLimited);
  });

  it("paced at 20 a second, the same burst is answered in full", async () => {
    expect(await burst(20)).toEqual({ failed: 0, rateLimited: 0 });
  });
});

describe("STRIPE_REQUESTS_PER_SECOND", () => {
  it("is optional, and a positive number when given", () => {
    expect(loadRequestsPerSecond(undefined)).toBeUndefined();
    expect(loadRequestsPerSecond("")).toBeUndefined();
    expect(loadRequestsPerSecond("4")).toBe(4);
    expect(loadRequestsPerSecond("12.5")).toBe(12.5);
    for (const raw of ["0", "-2", "fast", "Infinity"]) {
      expect(() => loadRequestsPerSecond(raw), raw).toThrow(ConfigurationError);
    }
  });

  it("refuses a bad value when a handler first asks for the Stripe client, without quoting the key", () => {
    const key = `sk_test_${randomBytes(12).toString("hex")}`;
    const app = createWebhookApp({
      // Never called: the settings are refused before the ledger is touched.
      dynamo: new DynamoDBClient({ region: "us-east-1" }),
      settings: () => ({ mode: "test", tableName: "ledger", stripeApiKey: key, stripeRequestsPerSecond: "fast" }),
      registry: entitlementHandlers,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    let refusal: unknown;
    try {
      void app.retrieveEvent("evt_1");
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ConfigurationError);
    expect(String(refusal)).toMatch(/STRIPE_REQUESTS_PER_SECOND must be a positive number, not "fast"/);
    expect(String(refusal)).not.toContain(key);
  });
});
