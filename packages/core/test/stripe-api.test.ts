import { randomBytes } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventCatalog } from "../src/catalog.ts";
import {
  ConfigurationError,
  StripeCallError,
  StripeMisconfiguredError,
  StripeRequestRefusedError,
  StripeUnavailableError,
  errorSummary,
} from "../src/errors.ts";
import { handlerTimeoutSeconds } from "../src/limits.ts";
import {
  callStripe,
  classifyStripeError,
  createStripeClient,
  defaultStripeMaxNetworkRetries,
  defaultStripeTimeoutMs,
  type StripeClientOptions,
} from "../src/stripe-api.ts";
import { stripeApiVersion } from "../src/stripe-version.ts";
import { buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import { seededRandom, shuffle } from "@stripe-webhooks/testing/random";
import { startStripeApiDouble, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { thrown } from "@stripe-webhooks/testing/thrown";

// The real `stripe` SDK against the test kit's double of Stripe's API (Stripe cannot be reached
// here): what is tested is this module's configuration and error handling, and the SDK's own
// retries and pagination as they meet Stripe's documented behaviour.

function newKey(prefix: string): string {
  return `${prefix}${randomBytes(18).toString("hex")}`;
}

const secretKey = newKey("sk_test_");
const restrictedKey = newKey("rk_test_");
const allKeys = [secretKey, restrictedKey];

// A fixed clock for the double's 30-day event window; tests move it.
const startMs = Date.UTC(2026, 9, 1, 12);
const startSeconds = startMs / 1000;
const daySeconds = 24 * 60 * 60;
let nowMs = startMs;

let double: StripeApiDouble;

beforeEach(async () => {
  nowMs = startMs;
  double = await startStripeApiDouble({
    apiKeys: [secretKey, { key: restrictedKey, canRead: ["webhook_endpoints"] }],
    now: () => nowMs,
  });
});

afterEach(async () => {
  await double.close();
});

function client(options: Partial<StripeClientOptions> = {}): Stripe {
  // Short timeouts keep a broken double from stalling the suite; they are guards, not assertions.
  return createStripeClient({ apiKey: secretKey, apiBase: double.url, timeoutMs: 5_000, ...options });
}

function addEvent(id: string, created: number, type: string = "invoice.paid", delivered = true): void {
  double.addEvent(buildEvent(type, { id, created }), { delivered });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

async function callFailure<T extends StripeCallError>(
  kind: abstract new (...args: never[]) => T,
  promise: Promise<unknown>,
): Promise<T> {
  const error = await rejection(promise);
  if (error instanceof kind) return error;
  throw new Error(`expected a ${kind.name}, got ${errorSummary(error)}`);
}

/** Every text a failure could put in a log, for asserting no key is in any of them. */
function loggableTexts(error: unknown): string[] {
  const texts = [errorSummary(error), String(error), classifyStripeError(error).description];
  if (error instanceof Error) texts.push(error.message, error.stack ?? "");
  if (error instanceof StripeCallError) {
    texts.push(error.description, errorSummary(error.cause), classifyStripeError(error.cause).description);
  }
  return texts;
}

function expectNoKey(error: unknown): void {
  for (const text of loggableTexts(error)) {
    for (const key of allKeys) expect(text).not.toContain(key);
  }
}

describe("listing events", () => {
  it("auto-paginates 250 events at 100 a page, newest first, same-second events latest insertion first", async () => {
    const random = seededRandom(7);
    // Three events a second, inserted with the seconds shuffled: the order must come from
    // `created` (and, within a second, insertion), not from insertion alone.
    const seconds = shuffle(random, Array.from({ length: 84 }, (_, index) => startSeconds - 3_600 + index));
    const inserted: { id: string; created: number; position: number }[] = [];
    for (const created of seconds) {
      for (let k = 0; k < 3 && inserted.length < 250; k += 1) {
        const id = `evt_list_${String(inserted.length).padStart(3, "0")}`;
        addEvent(id, created, eventCatalog[inserted.length % eventCatalog.length]);
        inserted.push({ id, created, position: inserted.length });
      }
    }
    const expected = [...inserted].sort((a, b) => b.created - a.created || b.position - a.position).map((event) => event.id);

    const events = await callStripe("events.list", () =>
      client().events.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }),
    );

    expect(events.map((event) => event.id)).toEqual(expected);
    expect(double.requestCount("/v1/events")).toBe(3);
    const cursors = double.requests.map((request) => request.query.get("starting_after"));
    expect(cursors).toEqual([null, expected[99], expected[199]]);
  });

  it("pages forward from ending_before towards newer events, oldest first as the SDK iterates", async () => {
    for (let index = 0; index < 7; index += 1) addEvent(`evt_before_${index}`, startSeconds - 100 + index);

    const events = await client().events.list({ ending_before: "evt_before_2", limit: 2 }).autoPagingToArray({ limit: 100 });

    expect(events.map((event) => event.id)).toEqual(["evt_before_3", "evt_before_4", "evt_before_5", "evt_before_6"]);
  });

  it("filters by types[], a type wildcard and delivery_success", async () => {
    addEvent("evt_paid_ok", startSeconds - 50, "invoice.paid", true);
    addEvent("evt_paid_undelivered", startSeconds - 40, "invoice.paid", false);
    addEvent("evt_failed_undelivered", startSeconds - 30, "invoice.payment_failed", false);
    addEvent("evt_checkout_undelivered", startSeconds - 20, "checkout.session.completed", false);
    addEvent("evt_sub_created", startSeconds - 10, "customer.subscription.created", true);
    addEvent("evt_sub_deleted", startSeconds - 5, "customer.subscription.deleted", false);
    const stripe = client();

    const undeliveredInvoices = await stripe.events
      .list({ types: ["invoice.paid", "invoice.payment_failed"], delivery_success: false })
      .autoPagingToArray({ limit: 100 });
    const subscriptions = await stripe.events.list({ type: "customer.subscription.*" }).autoPagingToArray({ limit: 100 });
    const delivered = await stripe.events.list({ delivery_success: true }).autoPagingToArray({ limit: 100 });

    expect(undeliveredInvoices.map((event) => event.id)).toEqual(["evt_failed_undelivered", "evt_paid_undelivered"]);
    expect(undeliveredInvoices.map((event) => event.pending_webhooks)).toEqual([1, 1]);
    expect(subscriptions.map((event) => event.id)).toEqual(["evt_sub_deleted", "evt_sub_created"]);
    expect(delivered.map((event) => event.id)).toEqual(["evt_sub_created", "evt_paid_ok"]);
    // The array form stripe-node sends, which the double reads as Stripe does.
    expect(double.requests[0]?.query.getAll("types[0]")).toEqual(["invoice.paid"]);

    double.setDelivered("evt_paid_undelivered", true);
    const stillUndelivered = await stripe.events
      .list({ type: "invoice.paid", delivery_success: false })
      .autoPagingToArray({ limit: 100 });
    expect(stillUndelivered).toEqual([]);
  });

  it("applies created bounds, inclusive and exclusive", async () => {
    for (let index = 0; index < 5; index += 1) addEvent(`evt_created_${index}`, startSeconds - 100 + index);
    const stripe = client();
    const ids = async (created: Stripe.RangeQueryParam) =>
      (await stripe.events.list({ created }).autoPagingToArray({ limit: 100 })).map((event) => event.id);

    expect(await ids({ gte: startSeconds - 99, lte: startSeconds - 97 })).toEqual([
      "evt_created_3",
      "evt_created_2",
      "evt_created_1",
    ]);
    expect(await ids({ gt: startSeconds - 99, lt: startSeconds - 97 })).toEqual(["evt_created_2"]);
  });

  it("only sees the last 30 days of events, by the double's clock", async () => {
    addEvent("evt_old", startSeconds - 29 * daySeconds);
    addEvent("evt_recent", startSeconds - daySeconds);
    const stripe = client();
    const listed = async () => (await stripe.events.list().autoPagingToArray({ limit: 100 })).map((event) => event.id);

    expect(await listed()).toEqual(["evt_recent", "evt_old"]);

    nowMs = startMs + 2 * daySeconds * 1000;
    expect(await listed()).toEqual(["evt_recent"]);
    const expired = await callFailure(
      StripeRequestRefusedError,
      callStripe("events.retrieve", () => stripe.events.retrieve("evt_old")),
    );
    expect(expired.code).toBe("resource_missing");
  });

  it("refuses a limit above 100 and an unknown cursor, as Stripe does", async () => {
    addEvent("evt_only", startSeconds - 1);
    const stripe = client();

    const tooMany = await callFailure(
      StripeRequestRefusedError,
      callStripe("events.list", () => stripe.events.list({ limit: 101 })),
    );
    const unknownCursor = await callFailure(
      StripeRequestRefusedError,
      callStripe("events.list", () => stripe.events.list({ starting_after: "evt_nope" })),
    );

    expect(tooMany.statusCode).toBe(400);
    expect(classifyStripeError(tooMany.cause).kind).toBe("request-refused");
    expect(unknownCursor.statusCode).toBe(400);
    expect(unknownCursor.code).toBe("resource_missing");
  });
});

describe("retrieving objects", () => {
  it("retrieves an event as stored, with its delivery state", async () => {
    const event = buildEvent("customer.subscription.updated", { id: "evt_retrieve", created: startSeconds - 60 });
    double.addEvent(event, { delivered: false });

    const retrieved = await callStripe("events.retrieve", () => client().events.retrieve("evt_retrieve"));

    expect(retrieved.id).toBe("evt_retrieve");
    expect(retrieved.type).toBe("customer.subscription.updated");
    expect(retrieved.data.object).toEqual((event.data as { object: unknown }).object);
    expect(retrieved.pending_webhooks).toBe(1);
  });

  it("turns a 404 into a refused request with Stripe's code and status", async () => {
    const missing = await callFailure(
      StripeRequestRefusedError,
      callStripe("events.retrieve", () => client().events.retrieve("evt_missing")),
    );

    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe("resource_missing");
    expect(missing.operation).toBe("events.retrieve");
    expect(missing.requestId).toMatch(/^req_/);
    expect(missing.message).toContain("No such event: 'evt_missing'");
    expect(missing.cause).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });

  it("sees the webhook endpoint's state as the test changes it", async () => {
    double.setEndpoint({
      id: "we_stage",
      status: "enabled",
      api_version: stripeApiVersion,
      enabled_events: [...eventCatalog],
      url: "https://example.com/stripe/webhook",
    });
    const stripe = client();

    const enabled = await stripe.webhookEndpoints.retrieve("we_stage");
    double.setEndpoint({ id: "we_stage", status: "disabled" });
    const disabled = await stripe.webhookEndpoints.retrieve("we_stage");

    expect(enabled.status).toBe("enabled");
    expect(enabled.api_version).toBe(stripeApiVersion);
    expect(enabled.enabled_events).toEqual([...eventCatalog]);
    expect(disabled.status).toBe("disabled");
    expect(disabled.url).toBe("https://example.com/stripe/webhook");
  });

  it("retrieves subscriptions and customers, seeing later changes", async () => {
    double.setCustomer({ id: "cus_double", email: "a@example.com" });
    double.setSubscription({ id: "sub_double", customer: "cus_double", status: "active" });
    const stripe = client();

    expect((await stripe.subscriptions.retrieve("sub_double")).status).toBe("active");
    double.setSubscription({ id: "sub_double", status: "canceled" });
    expect((await stripe.subscriptions.retrieve("sub_double")).status).toBe("canceled");
    const customer = await stripe.customers.retrieve("cus_double");
    expect(customer.deleted).toBeUndefined();
    expect("email" in customer ? customer.email : undefined).toBe("a@example.com");
    const missing = await callFailure(
      StripeRequestRefusedError,
      callStripe("customers.retrieve", () => stripe.customers.retrieve("cus_nope")),
    );
    expect(missing.message).toContain("No such customer: 'cus_nope'");
  });
});

describe("keys Stripe refuses", () => {
  it("classifies an unknown key (401) as misconfiguration, never quoting the key", async () => {
    const unknownKey = newKey("sk_test_");

    const error = await callFailure(
      StripeMisconfiguredError,
      callStripe("events.list", () => client({ apiKey: unknownKey }).events.list()),
    );

    expect(error.statusCode).toBe(401);
    expect(classifyStripeError(error.cause).kind).toBe("misconfiguration");
    for (const text of loggableTexts(error)) expect(text).not.toContain(unknownKey);
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });

  it("classifies a restricted key lacking Events: Read (403) as misconfiguration", async () => {
    double.setEndpoint({ id: "we_restricted" });
    const stripe = client({ apiKey: restrictedKey });

    const error = await callFailure(StripeMisconfiguredError, callStripe("events.list", () => stripe.events.list()));
    const endpoint = await stripe.webhookEndpoints.retrieve("we_restricted");

    expect(error.statusCode).toBe(403);
    expect(error.message).toContain("rak_event_read");
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expectNoKey(error);
    expect(endpoint.id).toBe("we_restricted");
  });
});

describe("Stripe unavailable", () => {
  beforeEach(() => {
    addEvent("evt_available", startSeconds - 1);
  });

  it("lets the SDK retry 429 lock timeouts (Stripe-Should-Retry: true) within maxNetworkRetries", async () => {
    double.failNext({ fault: "lock-timeout", times: defaultStripeMaxNetworkRetries });

    const event = await callStripe("events.retrieve", () => client().events.retrieve("evt_available"));

    expect(event.id).toBe("evt_available");
    expect(double.requestCount("/v1/events/evt_available")).toBe(defaultStripeMaxNetworkRetries + 1);
  });

  it("gives up on persistent lock timeouts after maxNetworkRetries: retry later", async () => {
    double.failNext({ fault: "lock-timeout", times: Infinity });

    const error = await callFailure(
      StripeUnavailableError,
      callStripe("events.retrieve", () => client({ maxNetworkRetries: 1 }).events.retrieve("evt_available")),
    );

    expect(double.requestCount()).toBe(2);
    expect(error.statusCode).toBe(429);
    expect(error.code).toBe("lock_timeout");
    expectNoKey(error);
  });

  it("does not retry a rate-limit 429 (the SDK leaves that to the caller, by design): retry later", async () => {
    double.failNext({ fault: "rate-limit" });

    const error = await callFailure(StripeUnavailableError, callStripe("events.list", () => client().events.list()));

    expect(double.requestCount()).toBe(1);
    expect(error.statusCode).toBe(429);
    expect(error.code).toBe("rate_limit");
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expectNoKey(error);
    // The next call goes through: rate limiting is a moment, not a state.
    expect((await client().events.list()).data).toHaveLength(1);
  });

  it("retries a 500 and, when it persists, reports retry later", async () => {
    double.failNext({ fault: "api-error", path: "/v1/events/evt_available" });
    expect((await client().events.retrieve("evt_available")).id).toBe("evt_available");

    double.failNext({ fault: "api-error", times: Infinity });
    const error = await callFailure(
      StripeUnavailableError,
      callStripe("events.retrieve", () => client({ maxNetworkRetries: 1 }).events.retrieve("evt_available")),
    );
    expect(error.statusCode).toBe(500);
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expectNoKey(error);
  });

  it("turns a request that never answers into a timeout: retry later", async () => {
    double.failNext({ fault: "hang", times: Infinity });

    const error = await callFailure(
      StripeUnavailableError,
      callStripe("events.list", () => client({ timeoutMs: 200, maxNetworkRetries: 0 }).events.list()),
    );

    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(error.description).toContain("timeout");
    expect(error.description).toContain("ETIMEDOUT");
    expectNoKey(error);
  });

  it("retries past one hung request", async () => {
    double.failNext({ fault: "hang" });

    const events = await client({ timeoutMs: 200, maxNetworkRetries: 1 }).events.list();

    expect(events.data.map((event) => event.id)).toEqual(["evt_available"]);
    expect(double.requests.map((request) => request.answer)).toEqual(["hang", 200]);
  });

  it("turns a closed connection into retry later, after the SDK's one free retry", async () => {
    double.failNext({ fault: "close" });
    // stripe-node retries a closed connection once even with retries off (a stale keep-alive
    // socket, e.g. after a frozen Lambda), so one drop is invisible...
    expect((await client({ maxNetworkRetries: 0 }).events.list()).data).toHaveLength(1);

    double.failNext({ fault: "close", times: Infinity });
    const error = await callFailure(
      StripeUnavailableError,
      callStripe("events.list", () => client({ maxNetworkRetries: 0 }).events.list()),
    );

    // ...and a persistent one fails after that retry.
    expect(double.requests.map((request) => request.answer)).toEqual(["close", 200, "close", "close"]);
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expectNoKey(error);
  });
});

describe("what the client sends", () => {
  it("pins Stripe-Version to the endpoint's version and names the app in the User-Agent", async () => {
    addEvent("evt_headers", startSeconds - 1);

    await client({ appVersion: "1.2.3" }).events.retrieve("evt_headers");
    await client().events.list();

    expect(double.requests.map((request) => request.stripeVersion)).toEqual([stripeApiVersion, stripeApiVersion]);
    expect(double.requests[0]?.userAgent).toContain("stripe-webhooks/1.2.3");
    expect(double.requests[1]?.userAgent).toContain("stripe-webhooks");
    const clientUserAgent: unknown = JSON.parse(double.requests[0]?.clientUserAgent ?? "{}");
    expect(clientUserAgent).toMatchObject({ application: { name: "stripe-webhooks", version: "1.2.3" } });
    // GETs carry no idempotency key; the SDK adds one only to POSTs.
    expect(double.requests.map((request) => request.idempotencyKey)).toEqual([undefined, undefined]);
  });

  it("keeps the worst case of all attempts and the SDK's backoff inside the webhook function's timeout", () => {
    const stripe = client();
    let backoffMs = 0;
    for (let retry = 1; retry <= defaultStripeMaxNetworkRetries; retry += 1) {
      const delaySeconds = stripe.getInitialNetworkRetryDelay() * 2 ** (retry - 1);
      backoffMs += Math.min(delaySeconds, stripe.getMaxNetworkRetryDelay()) * 1000;
    }

    const worstCaseMs = (defaultStripeMaxNetworkRetries + 1) * defaultStripeTimeoutMs + backoffMs;

    expect(worstCaseMs).toBeLessThan(handlerTimeoutSeconds * 1000);
    expect(stripe.getMaxNetworkRetries()).toBe(defaultStripeMaxNetworkRetries);
  });
});

describe("the double, as the SDK meets it", () => {
  it("shows a key only the objects of its own mode", async () => {
    const liveKey = newKey("sk_live_");
    await double.close();
    double = await startStripeApiDouble({ apiKeys: [secretKey, liveKey], now: () => nowMs });
    addEvent("evt_test_mode", startSeconds - 1);
    const live = client({ apiKey: liveKey });

    const listed = await live.events.list();
    const retrieved = await callFailure(
      StripeRequestRefusedError,
      callStripe("events.retrieve", () => live.events.retrieve("evt_test_mode")),
    );

    expect(listed.data).toEqual([]);
    expect(retrieved.message).toContain("a similar object exists in test mode, but a live mode key was used");
    expectNoKey(retrieved);
    for (const text of loggableTexts(retrieved)) expect(text).not.toContain(liveKey);
  });

  it("refuses parameters Stripe refuses, so a client bug shows here rather than in production", async () => {
    const stripe = client();

    const both = await callFailure(
      StripeRequestRefusedError,
      callStripe("events.list", () => stripe.events.list({ type: "invoice.paid", types: ["invoice.paid"] })),
    );
    // Not a parameter of the Events API: what a client bug would send.
    const wrongParams = { customer: "cus_1" } as Stripe.EventListParams;
    const unknown = await callFailure(
      StripeRequestRefusedError,
      callStripe("events.list", () => stripe.events.list(wrongParams)),
    );

    expect(both.message).toContain("either `type` or `types`");
    expect(unknown.message).toContain("Received unknown parameter: customer");
  });

  it("answers a request without a key 401, and applies a restriction set mid-test", async () => {
    const anonymous = await fetch(`${double.url}/v1/events`);
    double.restrictKey(restrictedKey, []);
    double.setEndpoint({ id: "we_now_restricted" });

    const restricted = await callFailure(
      StripeMisconfiguredError,
      callStripe("webhookEndpoints.retrieve", () =>
        client({ apiKey: restrictedKey }).webhookEndpoints.retrieve("we_now_restricted"),
      ),
    );

    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { type: "invalid_request_error" } });
    expect(anonymous.headers.get("request-id")).toMatch(/^req_/);
    expect(restricted.statusCode).toBe(403);
  });
});

describe("createStripeClient", () => {
  function configurationError(options: StripeClientOptions): ConfigurationError {
    return thrown(ConfigurationError, () => createStripeClient(options));
  }

  it("accepts secret and restricted keys of both modes", () => {
    for (const prefix of ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]) {
      expect(createStripeClient({ apiKey: newKey(prefix) })).toBeInstanceOf(Stripe);
    }
  });

  it("refuses what is not a secret or restricted key, saying what it is without quoting it", () => {
    const cases = [
      { apiKey: newKey("pk_test_"), reason: "publishable key" },
      { apiKey: `whsec_${randomBytes(12).toString("hex")}`, reason: "signing secret" },
      { apiKey: `${secretKey}\n`, reason: "whitespace" },
      { apiKey: "", reason: "empty" },
      { apiKey: `${randomBytes(12).toString("hex")}`, reason: "shape" },
    ];

    for (const { apiKey, reason } of cases) {
      const error = configurationError({ apiKey });
      expect(error.message).toContain(reason);
      if (apiKey !== "") expect(error.message).not.toContain(apiKey.trim());
    }
  });

  it("refuses a key of the other mode when the stage's mode is given", () => {
    const error = configurationError({ apiKey: newKey("rk_test_"), expectedMode: "live" });

    expect(error.message).toContain("test-mode key but this stage is live-mode");
    expect(createStripeClient({ apiKey: newKey("rk_live_"), expectedMode: "live" })).toBeInstanceOf(Stripe);
  });

  it("refuses an apiBase that is not a bare http(s) origin", () => {
    expect(configurationError({ apiKey: secretKey, apiBase: "127.0.0.1:12111" }).message).toContain("is not a URL");
    expect(configurationError({ apiKey: secretKey, apiBase: "localhost:12111" }).message).toContain("http or https");
    expect(configurationError({ apiKey: secretKey, apiBase: "ftp://127.0.0.1" }).message).toContain("http or https");
    const withPath = configurationError({ apiKey: secretKey, apiBase: "http://127.0.0.1:12111/v1" });
    expect(withPath.message).toContain("without a path");
    const withCredentials = configurationError({ apiKey: secretKey, apiBase: "http://user:hunter2@127.0.0.1:12111" });
    expect(withCredentials.message).toContain("credentials");
    expect(withCredentials.message).not.toContain("hunter2");
  });

  it("refuses negative retries and a zero timeout", () => {
    expect(configurationError({ apiKey: secretKey, maxNetworkRetries: -1 }).message).toContain("maxNetworkRetries");
    expect(configurationError({ apiKey: secretKey, timeoutMs: 0 }).message).toContain("timeoutMs");
  });
});

describe("classifyStripeError", () => {
  it("sorts the SDK's errors into their kinds", () => {
    const errors = Stripe.errors;
    const cases: [unknown, string][] = [
      [new errors.StripeRateLimitError({ statusCode: 429, message: "slow down" }), "retry-later"],
      [new errors.StripeConnectionError({ message: "An error occurred with our connection to Stripe." }), "retry-later"],
      [new errors.StripeAPIError({ statusCode: 503, message: "down" }), "retry-later"],
      [new errors.StripeAPIError({ statusCode: 409, message: "concurrent idempotent request" }), "retry-later"],
      [new errors.StripeAPIError({ message: "Invalid JSON received from the Stripe API" }), "retry-later"],
      [new errors.StripeAuthenticationError({ statusCode: 401, message: "Invalid API Key provided" }), "misconfiguration"],
      [new errors.StripePermissionError({ statusCode: 403, message: "missing permission" }), "misconfiguration"],
      [new errors.StripeCardError({ statusCode: 402, message: "declined", code: "card_declined" }), "request-refused"],
      [new errors.StripeInvalidRequestError({ statusCode: 400, message: "bad" }), "request-refused"],
      [new errors.StripeIdempotencyError({ statusCode: 400, message: "Key reused with other parameters" }), "request-refused"],
      [new errors.StripeError({ message: "Unable to authenticate the request" }), "unknown"],
      [new TypeError("a bug"), "unknown"],
      ["thrown string", "unknown"],
    ];

    expect(cases.map(([error]) => classifyStripeError(error).kind)).toEqual(cases.map(([, kind]) => kind));
  });

  it("tells a host that cannot be reached (no connection opened) from one that dropped or stalled a request", () => {
    const connection = (code: string) =>
      new Stripe.errors.StripeConnectionError({
        message: "An error occurred with our connection to Stripe.",
        detail: Object.assign(new Error(code), { code }),
      });
    const codes = ["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "ETIMEDOUT"];

    expect(codes.map((code) => classifyStripeError(connection(code)).kind)).toEqual([
      "unreachable",
      "unreachable",
      "unreachable",
      "unreachable",
      "unreachable",
      "retry-later",
      "retry-later",
    ]);
  });

  it("a closed port is unreachable, and callStripe still reports it as retry later", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const stripe = createStripeClient({ apiKey: secretKey, apiBase: `http://127.0.0.1:${port}`, maxNetworkRetries: 0 });

    const error = await callFailure(StripeUnavailableError, callStripe("events.list", () => stripe.events.list()));

    expect(classifyStripeError(error.cause)).toMatchObject({ kind: "unreachable" });
    expect(error.description).toContain("ECONNREFUSED");
    expectNoKey(error);
  });

  it("describes in one line with type, status, code and request id, masking keys", () => {
    const error = new Stripe.errors.StripeAuthenticationError({
      statusCode: 401,
      code: "api_key_expired",
      requestId: "req_123",
      message: `Expired API Key provided: ${secretKey}`,
    });

    const { description } = classifyStripeError(error);

    expect(description).toBe(
      "StripeAuthenticationError (status 401, code api_key_expired, request req_123): " +
        "Expired API Key provided: sk_[redacted]",
    );
  });

  it("callStripe rethrows what is not a Stripe error unchanged", async () => {
    const bug = new TypeError("a bug");

    expect(await rejection(callStripe("events.list", () => Promise.reject(bug)))).toBe(bug);
  });
});
