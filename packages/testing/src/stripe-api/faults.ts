import { errorAnswer, type Answer } from "./answers.ts";

/*
 * The layer in front of the endpoints: what stops a request before Stripe executes it (before
 * authentication and idempotency), as a rate limiter or an outage does. Two gates live here: the
 * faults a test queues, and an optional rate limiter shaped like Stripe's basic one.
 */

/**
 * An injected failure: `rate-limit` and `lock-timeout` answer 429, `api-error` 500,
 * `card-declined` 402 (a card_error), `hang` never answers (the client's timeout has to fire),
 * `close` destroys the connection unanswered.
 */
export type StripeApiFault = "rate-limit" | "lock-timeout" | "api-error" | "card-declined" | "hang" | "close";

export interface StripeApiFaultPlan {
  fault: StripeApiFault;
  /** How many matching requests fail; default 1, `Infinity` until `clearFaults`. */
  times?: number;
  /** Only requests whose path equals (string) or matches (RegExp) this; default every path. */
  path?: string | RegExp;
}

/** What a gate did with a request: answered it itself, or left it unanswered (`hang`, `close`). */
export type Interception = Answer | "hang" | "close";

/** A layer consulted, in order, before a request reaches its endpoint; the first interception wins. */
export interface RequestGate {
  intercept(request: { method: string; path: string }): Interception | undefined;
}

export interface FaultLayer extends RequestGate {
  /** Queues a fault for the next matching requests; plans are consumed in the order given. */
  failNext(plan: StripeApiFaultPlan): void;
  clear(): void;
}

/** Whether `path` equals (string) or matches (RegExp) `filter`; no filter matches every path. */
export function pathMatches(path: string, filter: string | RegExp | undefined): boolean {
  return filter === undefined || (typeof filter === "string" ? path === filter : filter.test(path));
}

/**
 * Stripe's 429 for a request over the rate limit. It sends no `Stripe-Should-Retry`, so the SDK
 * does not retry it, as against Stripe.
 */
export function rateLimited(): Answer {
  return errorAnswer(429, {
    type: "invalid_request_error",
    code: "rate_limit",
    message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
  });
}

function faultAnswer(fault: StripeApiFault): Interception {
  switch (fault) {
    case "hang":
    case "close":
      return fault;
    case "rate-limit":
      return rateLimited();
    case "lock-timeout":
      // Stripe asks for a retry here, and the SDK does retry it.
      return errorAnswer(
        429,
        {
          type: "invalid_request_error",
          code: "lock_timeout",
          message:
            "This object cannot be accessed right now because another API request or Stripe process is " +
            "currently accessing it. If you see this error intermittently, retry the request.",
        },
        { "Stripe-Should-Retry": "true" },
      );
    case "card-declined":
      return errorAnswer(402, { type: "card_error", code: "card_declined", message: "Your card was declined." });
    case "api-error":
      return errorAnswer(500, {
        type: "api_error",
        message: "An unknown error occurred. Please try again; if the problem persists, contact Stripe support.",
      });
  }
}

export function createFaultLayer(): FaultLayer {
  const queued: { fault: StripeApiFault; times: number; path: string | RegExp | undefined }[] = [];
  return {
    intercept({ path }) {
      const index = queued.findIndex((plan) => plan.times > 0 && pathMatches(path, plan.path));
      const plan = queued[index];
      if (plan === undefined) return undefined;
      plan.times -= 1;
      if (plan.times <= 0) queued.splice(index, 1);
      return faultAnswer(plan.fault);
    },
    failNext(plan) {
      const times = plan.times ?? 1;
      if (!(times >= 1)) throw new Error("failNext: times must be at least 1");
      queued.push({ fault: plan.fault, times, path: plan.path });
    },
    clear() {
      queued.length = 0;
    },
  };
}

/**
 * Stripe's basic rate limiter, in requests per second, for reads and for writes alike (Stripe's
 * "Rate limits" page: 25 in test mode and sandboxes, 100 in live mode).
 */
export const stripeRateLimits = { test: 25, live: 100 } as const;

/**
 * The double's own rate limit: a token bucket per kind of request (reads are GETs, writes
 * everything else), as Stripe's basic limiter counts them. Off unless a test asks for it.
 */
export interface StripeApiRateLimit {
  /** Whose rates apply by default: test mode's (the default) or live mode's ({@link stripeRateLimits}). */
  mode?: "test" | "live";
  /** Reads allowed per second; the mode's rate unless set. */
  readsPerSecond?: number;
  /** Writes allowed per second; the mode's rate unless set, `Infinity` for no write limit. */
  writesPerSecond?: number;
  /**
   * How many requests of a kind may pass at once after a quiet spell: the bucket's size. Stripe
   * does not publish it; one second's worth (the rate) by default.
   */
  burst?: number;
  /**
   * The limiter's clock in milliseconds, only ever compared with itself. Defaults to a monotonic
   * one; a test injects its own to move time without sleeping.
   */
  now?: () => number;
}

/** The rate limiter as a gate, with what it did so far. */
export interface RateLimitLayer extends RequestGate {
  /** Requests the limiter answered 429 (queued faults not included). */
  readonly limited: number;
  /** Requests the limiter let through. */
  readonly allowed: number;
}

/**
 * A rate limiter in front of the double's endpoints. It exists because the queued consumer's
 * whole point is to stay under Stripe's limit, and that can only be shown against something that
 * enforces one: the double answers a request over the limit exactly as Stripe does (429,
 * `rate_limit`, no `Stripe-Should-Retry`, so the SDK leaves the retry to the caller). Like
 * Stripe's, the limit is a token bucket refilled continuously; unlike Stripe's, it is one per
 * double rather than per account and mode, since a test speaks to the double in one mode.
 * Throws for a rate or burst that is not a positive number.
 */
export function createRateLimitLayer(options: StripeApiRateLimit = {}): RateLimitLayer {
  const modeRate = stripeRateLimits[options.mode ?? "test"];
  const reads = tokenBucket("readsPerSecond", options.readsPerSecond ?? modeRate, options.burst);
  const writes = tokenBucket("writesPerSecond", options.writesPerSecond ?? modeRate, options.burst);
  const now = options.now ?? (() => performance.now());
  let limited = 0;
  let allowed = 0;
  return {
    intercept({ method }) {
      const bucket = method === "GET" ? reads : writes;
      if (bucket.take(now())) {
        allowed += 1;
        return undefined;
      }
      limited += 1;
      return rateLimited();
    },
    get limited() {
      return limited;
    },
    get allowed() {
      return allowed;
    },
  };
}

interface TokenBucket {
  /** Takes one token at time `at` (ms) if there is one. */
  take(at: number): boolean;
}

function tokenBucket(name: string, perSecond: number, burst: number | undefined): TokenBucket {
  if (perSecond === Infinity) return { take: () => true };
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new Error(`rateLimit: ${name} must be a positive number`);
  const size = burst ?? perSecond;
  if (!(size >= 1) || !Number.isFinite(size)) throw new Error("rateLimit: burst must be a number of at least 1");
  // Counted in thousandths of a token per millisecond's refill (rate x ms), so whole-millisecond
  // clocks and whole rates refill without rounding drift: one token costs 1000 units.
  const capacity = size * 1000;
  let units = capacity;
  let last: number | undefined;
  return {
    take(at) {
      if (last !== undefined && at > last) units = Math.min(capacity, units + (at - last) * perSecond);
      if (last === undefined || at > last) last = at;
      if (units < 1000) return false;
      units -= 1000;
      return true;
    },
  };
}
