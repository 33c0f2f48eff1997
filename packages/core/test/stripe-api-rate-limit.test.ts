import { randomBytes } from "node:crypto";
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { StripeUnavailableError } from "../src/errors.ts";
import { callStripe, createStripeClient } from "../src/stripe-api.ts";
import { buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import {
  startStripeApiDouble,
  stripeRateLimits,
  type StripeApiDouble,
  type StripeApiRateLimit,
} from "@stripe-webhooks/testing/stripe-api-double";

/*
 * The Stripe API double's rate limit, which the queued path's tests and the renewal bench lean
 * on: off unless asked for, Stripe's 429 when on, refilled on a clock the test moves, so nothing
 * here sleeps or depends on how fast the machine is.
 */

const apiKey = `sk_test_${randomBytes(12).toString("hex")}`;
const doubles: StripeApiDouble[] = [];

afterEach(async () => {
  await Promise.all(doubles.splice(0).map((double) => double.close()));
});

async function start(rateLimit?: Omit<StripeApiRateLimit, "now">): Promise<{ double: StripeApiDouble; clock: { ms: number } }> {
  const clock = { ms: 1_000_000 };
  const double = await startStripeApiDouble({
    apiKeys: [apiKey],
    ...(rateLimit === undefined ? {} : { rateLimit: { ...rateLimit, now: () => clock.ms } }),
  });
  doubles.push(double);
  double.addEvent(buildEvent("invoice.paid", { id: "evt_rate_limited", created: Math.floor(Date.now() / 1000) - 60 }));
  return { double, clock };
}

// Raw requests, one after another: the SDK's own behaviour is checked once, below.
async function statuses(double: StripeApiDouble, count: number, method: "GET" | "POST" = "GET"): Promise<number[]> {
  const answers: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const path = method === "GET" ? "/v1/events/evt_rate_limited" : "/v1/refunds";
    const response = await fetch(`${double.url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}` } });
    await response.text();
    answers.push(response.status);
  }
  return answers;
}

const ok = (statuses: number[]) => statuses.filter((status) => status !== 429).length;

describe("the double's rate limit", () => {
  it("is off unless asked for: a burst far over Stripe's limit is answered", async () => {
    const { double } = await start();

    const answers = await statuses(double, 3 * stripeRateLimits.test);

    expect(answers.every((status) => status === 200)).toBe(true);
    expect(double.rateLimited()).toBe(0);
  });

  it("lets test mode's 25 reads through at once and answers the 26th 429, as Stripe's SDK meets it", async () => {
    const { double } = await start({ mode: "test" });
    expect(await statuses(double, stripeRateLimits.test)).toEqual(Array(stripeRateLimits.test).fill(200));
    const stripe = createStripeClient({ apiKey, apiBase: double.url, timeoutMs: 5_000 });
    const before = double.requestCount();

    const error = await callStripe("events.retrieve", () => stripe.events.retrieve("evt_rate_limited")).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(StripeUnavailableError);
    const cause = (error as StripeUnavailableError).cause;
    expect(cause).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect((cause as Stripe.errors.StripeError).code).toBe("rate_limit");
    expect((cause as Stripe.errors.StripeError).statusCode).toBe(429);
    // Stripe sends no Stripe-Should-Retry on a rate limit, so the SDK does not retry it.
    expect(double.requestCount() - before).toBe(1);
    expect(double.rateLimited()).toBe(1);
  });

  it("answers with Stripe's error body", async () => {
    const { double } = await start({ readsPerSecond: 1 });
    await statuses(double, 1);

    const response = await fetch(`${double.url}/v1/events/evt_rate_limited`, { headers: { authorization: `Bearer ${apiKey}` } });

    expect(response.status).toBe(429);
    expect(response.headers.get("stripe-should-retry")).toBeNull();
    expect(await response.json()).toEqual({
      error: {
        type: "invalid_request_error",
        code: "rate_limit",
        message: expect.stringContaining("rate limit"),
        doc_url: "https://stripe.com/docs/error-codes/rate-limit",
      },
    });
  });

  it("refills continuously on its clock: one read per 40 ms at 25/s, never more than a second's worth", async () => {
    const { double, clock } = await start({ mode: "test" });
    await statuses(double, stripeRateLimits.test);

    clock.ms += 39;
    expect(await statuses(double, 1)).toEqual([429]);
    clock.ms += 1;
    expect(await statuses(double, 2)).toEqual([200, 429]);

    clock.ms += 60_000;
    expect(ok(await statuses(double, stripeRateLimits.test + 5))).toBe(stripeRateLimits.test);
    expect(double.rateLimited()).toBe(1 + 1 + 5);
  });

  it("allows live mode's 100 reads per second", async () => {
    const { double, clock } = await start({ mode: "live" });

    expect(ok(await statuses(double, stripeRateLimits.live + 1))).toBe(stripeRateLimits.live);
    clock.ms += 10;
    expect(await statuses(double, 1)).toEqual([200]);
  });

  it("takes a configured rate and burst", async () => {
    const { double, clock } = await start({ readsPerSecond: 4, burst: 2 });

    expect(await statuses(double, 3)).toEqual([200, 200, 429]);
    clock.ms += 250;
    expect(await statuses(double, 2)).toEqual([200, 429]);
  });

  it("counts writes apart from reads, as Stripe does", async () => {
    const { double } = await start({ readsPerSecond: 2, writesPerSecond: 1 });
    await statuses(double, 3);

    // The refund is refused for its missing parameters, after the limiter let it through.
    expect(await statuses(double, 2, "POST")).toEqual([400, 429]);
    expect(double.rateLimited()).toBe(2);
  });

  it("lets a queued fault answer first without taking a token", async () => {
    const { double } = await start({ readsPerSecond: 1 });
    double.failNext({ fault: "api-error" });

    expect(await statuses(double, 3)).toEqual([500, 200, 429]);
    expect(double.rateLimited()).toBe(1);
  });

  it("refuses a rate or burst that is not a positive number", async () => {
    for (const rateLimit of [{ readsPerSecond: 0 }, { writesPerSecond: -1 }, { readsPerSecond: Number.NaN }, { burst: 0.5 }]) {
      await expect(startStripeApiDouble({ apiKeys: [apiKey], rateLimit })).rejects.toThrow(/rateLimit: \w+ must be/);
    }
  });
});
