import type Stripe from "stripe";
import { stripeApiVersion } from "@stripe-webhooks/core/stripe-version";
import { defaultFixturesPath } from "@stripe-webhooks/stripe-fixtures/events";
import type { StripeObject } from "./stripe-api/answers.ts";
import { customersResource } from "./stripe-api/customers.ts";
import { eventsResource, type AddEventOptions } from "./stripe-api/events.ts";
import {
  createFaultLayer,
  createRateLimitLayer,
  pathMatches,
  type RequestGate,
  type StripeApiFaultPlan,
  type StripeApiRateLimit,
} from "./stripe-api/faults.ts";
import { loadFixtures } from "./stripe-api/fixtures.ts";
import { createIdempotencyLayer } from "./stripe-api/idempotency.ts";
import { createKeyRing, type StripeApiKeySpec } from "./stripe-api/keys.ts";
import { refundsResource } from "./stripe-api/refunds.ts";
import type { StripeApiResource } from "./stripe-api/resource.ts";
import { serveStripeApi, type RecordedStripeRequest } from "./stripe-api/router.ts";
import { subscriptionsResource } from "./stripe-api/subscriptions.ts";
import { webhookEndpointsResource } from "./stripe-api/webhook-endpoints.ts";

/*
 * A double of Stripe's API servers: an HTTP server on 127.0.0.1 answering the few endpoints
 * this app calls, so tests can drive the real `stripe` SDK against it. It exists because
 * Stripe's API cannot be reached from here (no network but the npm registry), and because the
 * failures that matter (rate limits, 5xx, hangs, dropped connections, a key lacking a
 * permission) cannot be produced on demand against the real API anyway. Its objects are
 * Stripe's own examples and events made by the event builders over them (both in
 * packages/stripe-fixtures, see its README). Never imported by shipped code.
 *
 * Where it behaves like Stripe (and is worth trusting):
 * - Authentication (stripe-api/keys.ts): `Authorization: Bearer <key>` (or HTTP Basic with the
 *   key as user name); no key or an unknown key is a 401, a restricted key lacking the
 *   resource's permission a 403, with messages that quote the key masked as Stripe does
 *   (prefix and last four characters). A key only sees objects of its own mode (livemode).
 * - Errors (stripe-api/answers.ts): `{"error":{"type","code","message","param","doc_url"}}` with
 *   Stripe's statuses; the `type` is one of the four the API documents (api_error, card_error,
 *   idempotency_error, invalid_request_error), so 401, 403 and 429 are `invalid_request_error`s
 *   told apart by status, which is how the SDK tells them apart too. Every answer carries
 *   `Request-Id` and `Stripe-Version` (the requested version, else the account's).
 * - `GET /v1/events` (stripe-api/events.ts, lists.ts): filters by type, created and
 *   delivery_success, `limit` (default 10, 1 to 100, otherwise a 400), `starting_after` /
 *   `ending_before` (positional cursors, like Stripe's: the cursor need not match the filters,
 *   but an unknown id is a 400 resource_missing), newest first (created descending, later
 *   insertions first within a second), `has_more`, `object: "list"`, `url`; only the last 30
 *   days. Unknown parameters are a 400, as Stripe answers.
 * - `GET /v1/events/:id`, `/v1/webhook_endpoints/:id`, `/v1/subscriptions/:id`,
 *   `/v1/customers/:id`: the stored object, or a 404 resource_missing with `param: "id"`.
 *   Objects can be changed by the test at any time; the next request sees the change.
 * - `POST /v1/refunds` (stripe-api/refunds.ts), the one write, behind Stripe's idempotency
 *   layer (stripe-api/idempotency.ts). Faults are injected before that layer, as a rate limit
 *   stops a request before Stripe executes it.
 * - Faults on demand (stripe-api/faults.ts, `failNext`): 429 rate_limit, 429 lock_timeout,
 *   500 api_error, 402 card_error, a request never answered, a connection closed unanswered.
 * - Rate limit, when `rateLimit` is given (stripe-api/faults.ts): Stripe's basic limiter as a
 *   token bucket for reads and one for writes, 25 per second (test mode) or 100 (live mode) unless
 *   set otherwise, answering 429 rate_limit as Stripe does; on a clock a test can inject.
 *
 * Where it does not: no writes but refunds, no `expand` (accepted and ignored), no search, one rate
 * limit for the whole double (Stripe's is per account and mode), no Connect (`Stripe-Account` is
 * recorded, but every account sees the same objects), idempotency keys never expire, and
 * permission names in 403 messages follow Stripe's `rak_<resource>_read` pattern without being
 * checked against Stripe's list.
 *
 * Layout: stripe-api/router.ts answers in Stripe's order (gates, 401, 404, 403, idempotency,
 * endpoint); each resource is one module listing its endpoints and permission, so a new
 * endpoint touches that module only; stripe-api/faults.ts is the layer in front of them all.
 */

export type { StripeObject } from "./stripe-api/answers.ts";
export type { AddEventOptions } from "./stripe-api/events.ts";
export type { StripeApiFault, StripeApiFaultPlan, StripeApiRateLimit } from "./stripe-api/faults.ts";
export { stripeRateLimits } from "./stripe-api/faults.ts";
export type { StripeApiKeySpec } from "./stripe-api/keys.ts";
export type { StripeApiResource } from "./stripe-api/resource.ts";
export type { RecordedStripeRequest, StripeApiAnswer } from "./stripe-api/router.ts";
export { subscriptionItems } from "./stripe-api/subscriptions.ts";

export interface StripeApiDoubleOptions {
  /** Accepted keys: a string is a key with access to everything. */
  apiKeys: readonly (string | StripeApiKeySpec)[];
  /** The double's clock in epoch milliseconds, for the 30-day event window. Default `Date.now`. */
  now?: () => number;
  /** The account named in permission errors. */
  account?: string;
  /** The API version of answers to requests that send no `Stripe-Version`. Default: core's pinned one. */
  accountApiVersion?: string;
  /** Where Stripe's example objects are read from. Default: stripe-fixtures' `defaultFixturesPath` (`STRIPE_FIXTURES`, else its copy). */
  fixturesPath?: string;
  /** Enforce a rate limit like Stripe's (see {@link StripeApiRateLimit}); none unless given. */
  rateLimit?: StripeApiRateLimit;
}

export interface StripeApiDouble {
  /** `http://127.0.0.1:<port>`, for `createStripeClient({ apiBase })`. */
  readonly url: string;
  /** Every request so far, oldest first. */
  readonly requests: readonly RecordedStripeRequest[];
  /** Stores an event (an `evt_` id, `created`, `type` and `livemode` are required). */
  addEvent(event: StripeObject, options?: AddEventOptions): void;
  /** Marks an event's webhook deliveries as all succeeded, or not. */
  setDelivered(eventId: string, delivered: boolean): void;
  /** Creates or changes a webhook endpoint (by `id`; new ones start from Stripe's example). */
  setEndpoint(fields: Partial<Stripe.WebhookEndpoint>): StripeObject;
  /** Creates or changes a subscription, like {@link setEndpoint}. */
  setSubscription(fields: Partial<Stripe.Subscription>): StripeObject;
  /** Creates or changes a customer, like {@link setEndpoint}. */
  setCustomer(fields: Partial<Stripe.Customer>): StripeObject;
  /** The refunds created through `POST /v1/refunds`, oldest first. */
  refunds(): StripeObject[];
  /** Restricts a known `rk_` key to these resources from now on. */
  restrictKey(key: string, canRead: readonly StripeApiResource[]): void;
  /** Queues a fault for the next matching requests; plans are consumed in the order given. */
  failNext(plan: StripeApiFaultPlan): void;
  clearFaults(): void;
  /** Requests the double's rate limit answered 429 so far (0 without `rateLimit`; queued faults not counted). */
  rateLimited(): number;
  /** Requests so far, or those whose path equals or matches `path`. */
  requestCount(path?: string | RegExp): number;
  /** Stops the server, dropping open connections (including hung requests). */
  close(): Promise<void>;
}

/**
 * Starts the double on a free port of 127.0.0.1; `close()` it when the test or suite ends.
 */
export async function startStripeApiDouble(options: StripeApiDoubleOptions): Promise<StripeApiDouble> {
  const now = options.now ?? Date.now;
  const nowSeconds = (): number => Math.floor(now() / 1000);
  const fixtures = loadFixtures(options.fixturesPath ?? defaultFixturesPath);
  const keys = createKeyRing(options.apiKeys, options.account ?? "acct_1StripeApiDouble");
  const faults = createFaultLayer();
  const limiter = options.rateLimit === undefined ? undefined : createRateLimitLayer(options.rateLimit);
  // A queued fault answers first and takes no token: it stands for a request Stripe refused anyway.
  const gates: RequestGate[] = limiter === undefined ? [faults] : [faults, limiter];

  const events = eventsResource(nowSeconds);
  const endpoints = webhookEndpointsResource(fixtures);
  const subscriptions = subscriptionsResource(fixtures);
  const customers = customersResource(fixtures);
  const refunds = refundsResource(fixtures, nowSeconds);

  const server = await serveStripeApi({
    keys,
    resources: [events, endpoints, subscriptions, customers, refunds],
    gates,
    idempotency: createIdempotencyLayer(),
    accountApiVersion: options.accountApiVersion ?? stripeApiVersion,
  });

  return {
    url: server.url,
    get requests() {
      return server.requests;
    },
    addEvent: (event, eventOptions) => events.add(event, eventOptions),
    setDelivered: (eventId, delivered) => events.setDelivered(eventId, delivered),
    setEndpoint: (fields) => endpoints.set(fields),
    setSubscription: (fields) => subscriptions.set(fields),
    setCustomer: (fields) => customers.set(fields),
    refunds: () => refunds.created(),
    restrictKey(key, canRead) {
      if (!keys.knows(key)) throw new Error("restrictKey: the double does not know this key");
      keys.restrict(key, canRead);
    },
    failNext: (plan) => faults.failNext(plan),
    clearFaults: () => faults.clear(),
    rateLimited: () => limiter?.limited ?? 0,
    requestCount: (path) => server.requests.filter((request) => pathMatches(request.path, path)).length,
    close: () => server.close(),
  };
}
