import { errorAnswer, type Answer } from "./answers.ts";

/*
 * The layer in front of the endpoints: what stops a request before Stripe executes it (before
 * authentication and idempotency), as a rate limiter or an outage does. Today that is the
 * faults a test queues; a rate limiter of the double's own would be another gate beside them,
 * answering with `rateLimited()`.
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
