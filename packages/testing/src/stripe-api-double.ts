import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type Stripe from "stripe";
import { stripeApiVersion } from "@stripe-webhooks/core/stripe-version";
import { defaultFixturesPath } from "@stripe-webhooks/scripts/stripe-events";

/*
 * A double of Stripe's API servers: an HTTP server on 127.0.0.1 answering the few endpoints
 * this app calls, so tests can drive the real `stripe` SDK against it. It exists because
 * Stripe's API cannot be reached from here (no network but the npm registry), and because the
 * failures that matter (rate limits, 5xx, hangs, dropped connections, a key lacking a
 * permission) cannot be produced on demand against the real API anyway. Its objects are
 * Stripe's own examples (fixtures/stripe, see its README) and events made by the scripts'
 * event builders. Never imported by shipped code.
 *
 * Where it behaves like Stripe (and is worth trusting):
 * - Authentication: `Authorization: Bearer <key>` (or HTTP Basic with the key as user name);
 *   no key or an unknown key is a 401, a restricted key lacking the resource's read permission
 *   a 403, with Stripe's error shape and messages that quote the key masked as Stripe does
 *   (prefix and last four characters). A key only sees objects of its own mode (livemode).
 * - Errors: `{"error":{"type","code","message","param","doc_url"}}` with Stripe's statuses;
 *   the `type` is one of the four the API documents (api_error, card_error, idempotency_error,
 *   invalid_request_error), so 401, 403 and 429 are `invalid_request_error`s told apart by
 *   status, which is how the SDK tells them apart too. Every answer carries `Request-Id` and
 *   `Stripe-Version` (the requested version, else the account's).
 * - `GET /v1/events`: `type` (with `*` wildcards), `types[]` (stripe-node sends `types[0]`,
 *   `types[1]`, ...; both forms are read), `created` or `created[gt|gte|lt|lte]`,
 *   `delivery_success` (from a per-event `delivered` flag the test controls, also reflected in
 *   `pending_webhooks`), `limit` (default 10, 1 to 100, otherwise a 400), `starting_after` /
 *   `ending_before` (positional cursors, like Stripe's: the cursor need not match the filters,
 *   but an unknown id is a 400 resource_missing), newest first (created descending, later
 *   insertions first within a second), `has_more`, `object: "list"`, `url`. Only events of
 *   the last 30 days by the double's clock are listed or retrieved, as Stripe keeps them.
 *   Unknown parameters are a 400, as Stripe answers.
 * - `GET /v1/events/:id`, `/v1/webhook_endpoints/:id`, `/v1/subscriptions/:id`,
 *   `/v1/customers/:id`: the stored object, or a 404 resource_missing with `param: "id"`.
 *   Objects can be changed by the test at any time; the next request sees the change.
 * - `POST /v1/refunds` (`payment_intent` or `charge`, optional `amount`, `reason`,
 *   `metadata[...]`), the one write, for handlers that create something: it honours
 *   `Idempotency-Key` as Stripe does: the same key with the same parameters replays the first
 *   answer (`Idempotent-Replayed: true`) and creates nothing more, the same key with other
 *   parameters is a 400 idempotency_error. Faults are injected before that layer, as a rate
 *   limit stops a request before Stripe executes it. `GET /v1/refunds/:id` reads one back.
 * - Faults on demand (`failNext`): 429 rate_limit (no `Stripe-Should-Retry`, so the SDK does
 *   not retry it, as against Stripe), 429 lock_timeout (`Stripe-Should-Retry: true`, which the
 *   SDK does retry), 500 api_error, 402 card_error (card_declined), a request that is never
 *   answered, a connection closed without an answer.
 *
 * Where it does not: no writes but refunds, no `expand` (accepted and ignored), no search, no
 * rate limit of its own, no Connect (`Stripe-Account` is recorded, but every account sees the same
 * objects), idempotency keys never expire, and
 * permission names in 403 messages follow Stripe's `rak_<resource>_read` pattern without being
 * checked against Stripe's list.
 */

/** A Stripe object as JSON: the fixtures and the event builders produce these. */
export type StripeObject = Record<string, unknown>;

/** The resources the double serves; a restricted key is granted read access per resource. */
export type StripeApiResource = "events" | "webhook_endpoints" | "subscriptions" | "customers" | "refunds";

/** The resources served as single objects (by id), as opposed to the events list. */
type ObjectResource = Exclude<StripeApiResource, "events">;

/** An API key the double accepts. */
export interface StripeApiKeySpec {
  key: string;
  /**
   * The resources a restricted key (`rk_...`) may read; others answer 403. Omitted: every
   * resource, as for a secret key (`sk_...`, which cannot be restricted).
   */
  canRead?: readonly StripeApiResource[];
}

export interface StripeApiDoubleOptions {
  /** Accepted keys: a string is a key with access to everything. */
  apiKeys: readonly (string | StripeApiKeySpec)[];
  /** The double's clock in epoch milliseconds, for the 30-day event window. Default `Date.now`. */
  now?: () => number;
  /** The account named in permission errors. */
  account?: string;
  /** The API version of answers to requests that send no `Stripe-Version`. Default: core's pinned one. */
  accountApiVersion?: string;
  /** Where Stripe's example objects are read from. Default: the scripts' fixtures path. */
  fixturesPath?: string;
}

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

/** How the double answered a request: an HTTP status, or the fault that left it unanswered. */
export type StripeApiAnswer = number | "hang" | "close";

/** One request as the double saw it. */
export interface RecordedStripeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  stripeVersion: string | undefined;
  idempotencyKey: string | undefined;
  /** `Stripe-Account`: the connected account a platform's request acts on, if any. */
  stripeAccount: string | undefined;
  /** The form-encoded parameters of a POST (empty for other methods). */
  form: URLSearchParams;
  userAgent: string | undefined;
  /** The SDK's JSON `X-Stripe-Client-User-Agent` (carries `application`, i.e. appInfo). */
  clientUserAgent: string | undefined;
  /** Undefined while the answer is pending. */
  answer: StripeApiAnswer | undefined;
}

export interface AddEventOptions {
  /** Whether every webhook delivery of the event succeeded (`delivery_success`). Default true. */
  delivered?: boolean;
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
  /** Requests so far, or those whose path equals or matches `path`. */
  requestCount(path?: string | RegExp): number;
  /** Stops the server, dropping open connections (including hung requests). */
  close(): Promise<void>;
}

const eventRetentionSeconds = 30 * 24 * 60 * 60;
const defaultListLimit = 10;
const maxListLimit = 100;
const maxTypes = 20;

interface StoredEvent {
  seq: number;
  id: string;
  created: number;
  type: string;
  livemode: boolean;
  delivered: boolean;
  body: StripeObject;
}

interface QueuedFault {
  fault: StripeApiFault;
  times: number;
  path: string | RegExp | undefined;
}

interface StripeErrorBody {
  type: "api_error" | "card_error" | "idempotency_error" | "invalid_request_error";
  message: string;
  code?: string;
  param?: string;
}

/** An answer the double gives: status, Stripe error or object, extra headers. */
interface Answer {
  status: number;
  body: { error: StripeErrorBody & { doc_url?: string } } | StripeObject;
  headers?: Record<string, string>;
}

class StripeAnswer extends Error {
  readonly answer: Answer;
  constructor(answer: Answer) {
    super("answered early");
    this.answer = answer;
  }
}

function errorAnswer(status: number, error: StripeErrorBody, headers?: Record<string, string>): Answer {
  const docUrl =
    error.code === undefined ? {} : { doc_url: `https://stripe.com/docs/error-codes/${error.code.replaceAll("_", "-")}` };
  return { status, body: { error: { ...error, ...docUrl } }, ...(headers === undefined ? {} : { headers }) };
}

function invalidParam(param: string, message: string, code = "parameter_invalid"): StripeAnswer {
  return new StripeAnswer(errorAnswer(400, { type: "invalid_request_error", code, param, message }));
}

/** How Stripe quotes a key in its messages: the prefix, stars, the last four characters. */
function maskKey(key: string): string {
  const prefix = /^[a-z]+_(test|live)_/.exec(key)?.[0] ?? "";
  const hidden = Math.max(key.length - prefix.length - 4, 0);
  return `${prefix}${"*".repeat(hidden)}${key.slice(prefix.length + hidden)}`;
}

function keyIsLive(key: string): boolean {
  return /^[a-z]+_live_/.test(key);
}

const requestIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function newRequestId(): string {
  let id = "req_";
  for (let i = 0; i < 14; i += 1) id += requestIdAlphabet[randomInt(requestIdAlphabet.length)] ?? "0";
  return id;
}

// Stripe's messages name a restricted key's missing permission; these follow that pattern.
const readPermission: Record<StripeApiResource, string> = {
  events: "rak_event_read",
  webhook_endpoints: "rak_webhook_endpoint_read",
  subscriptions: "rak_subscription_read",
  customers: "rak_customer_read",
  // Refunds are only served to handlers that create them, which needs write access.
  refunds: "rak_refund_write",
};

// How Stripe names each object in "No such ..." messages.
const objectNoun: Record<ObjectResource, string> = {
  webhook_endpoints: "webhook endpoint",
  subscriptions: "subscription",
  customers: "customer",
  refunds: "refund",
};

const fixtureName: Record<ObjectResource, string> = {
  webhook_endpoints: "webhook_endpoint",
  subscriptions: "subscription",
  customers: "customer",
  refunds: "refund",
};

/**
 * The query as Stripe reads it: `a=1`, `a[]=x` / `a[0]=x` (arrays), `a[b]=1` (hashes).
 */
interface ParsedQuery {
  scalars: Map<string, string>;
  arrays: Map<string, string[]>;
  hashes: Map<string, Map<string, string>>;
}

function parseQuery(query: URLSearchParams): ParsedQuery {
  const parsed: ParsedQuery = { scalars: new Map(), arrays: new Map(), hashes: new Map() };
  for (const [key, value] of query) {
    const match = /^([a-z_]+)(?:\[([a-z_]*|\d+)\])?$/.exec(key);
    if (!match) throw invalidParam(key, `Received unknown parameter: ${key}`, "parameter_unknown");
    const [, name = key, inner] = match;
    if (inner === undefined) {
      parsed.scalars.set(name, value);
    } else if (inner === "" || /^\d+$/.test(inner)) {
      parsed.arrays.set(name, [...(parsed.arrays.get(name) ?? []), value]);
    } else {
      const hash = parsed.hashes.get(name) ?? new Map<string, string>();
      hash.set(inner, value);
      parsed.hashes.set(name, hash);
    }
  }
  return parsed;
}

function rejectUnknownParameters(query: ParsedQuery, known: readonly string[]): void {
  const names = [...query.scalars.keys(), ...query.arrays.keys(), ...query.hashes.keys()];
  const unknown = names.find((name) => !known.includes(name));
  if (unknown !== undefined) throw invalidParam(unknown, `Received unknown parameter: ${unknown}`, "parameter_unknown");
}

function parseInteger(param: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw invalidParam(param, `Invalid integer: ${value}`);
  return Number(value);
}

function parseBoolean(param: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw invalidParam(param, `Invalid boolean: ${value}`);
}

type CreatedBound = (created: number) => boolean;

function parseCreated(query: ParsedQuery): CreatedBound {
  const exact = query.scalars.get("created");
  if (exact !== undefined) {
    const at = parseInteger("created", exact);
    return (created) => created === at;
  }
  const range = query.hashes.get("created");
  if (range === undefined) return () => true;
  const checks: CreatedBound[] = [];
  for (const [operator, raw] of range) {
    const bound = parseInteger(`created[${operator}]`, raw);
    if (operator === "gt") checks.push((created) => created > bound);
    else if (operator === "gte") checks.push((created) => created >= bound);
    else if (operator === "lt") checks.push((created) => created < bound);
    else if (operator === "lte") checks.push((created) => created <= bound);
    else throw invalidParam(`created[${operator}]`, `Received unknown parameter: created[${operator}]`, "parameter_unknown");
  }
  return (created) => checks.every((check) => check(created));
}

function typeMatcher(query: ParsedQuery): (type: string) => boolean {
  const type = query.scalars.get("type");
  const types = query.arrays.get("types");
  if (type !== undefined && types !== undefined) {
    throw invalidParam("types", "You may pass either `type` or `types`, but not both.");
  }
  if (types !== undefined) {
    if (types.length > maxTypes) throw invalidParam("types", `You may pass at most ${maxTypes} event types.`);
    return (candidate) => types.includes(candidate);
  }
  if (type === undefined) return () => true;
  const pattern = new RegExp(`^${type.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return (candidate) => pattern.test(candidate);
}

function parseLimit(query: ParsedQuery): number {
  const raw = query.scalars.get("limit");
  if (raw === undefined) return defaultListLimit;
  const limit = parseInteger("limit", raw);
  if (limit < 1) throw invalidParam("limit", "This value must be greater than or equal to 1.");
  if (limit > maxListLimit) throw invalidParam("limit", `This value must be less than or equal to ${maxListLimit}.`);
  return limit;
}

/** Stripe's list order: newest first, later insertions first within the same second. */
function newestFirst(a: StoredEvent, b: StoredEvent): number {
  return b.created - a.created || b.seq - a.seq;
}

/**
 * One page of an already filtered, newest-first list, as Stripe cuts it: the first `limit`
 * items, those right after a `starting_after` cursor, or the `limit` right before an
 * `ending_before` cursor (towards newer items, still newest first). Cursors are positions, so
 * a cursor the filters exclude still works.
 */
function pageOf(
  matching: readonly StoredEvent[],
  limit: number,
  cursor: StoredEvent | undefined,
  direction: "starting_after" | "ending_before",
): { page: StoredEvent[]; hasMore: boolean } {
  if (cursor === undefined) return { page: matching.slice(0, limit), hasMore: matching.length > limit };
  if (direction === "starting_after") {
    const after = matching.filter((event) => newestFirst(cursor, event) < 0);
    return { page: after.slice(0, limit), hasMore: after.length > limit };
  }
  const before = matching.filter((event) => newestFirst(event, cursor) < 0);
  return { page: before.slice(Math.max(before.length - limit, 0)), hasMore: before.length > limit };
}

function requireString(event: StripeObject, field: string): string {
  const value = event[field];
  if (typeof value !== "string") throw new Error(`addEvent: the event has no string "${field}"`);
  return value;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The key a request authenticates with: Bearer, or Basic with the key as user name. */
function presentedKey(request: IncomingMessage): string | undefined {
  const authorization = header(request, "authorization");
  if (authorization === undefined) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)$/i.exec(authorization);
  if (!basic?.[1]) return undefined;
  return Buffer.from(basic[1], "base64").toString("utf8").split(":")[0];
}

/**
 * A subscription's `items` list with one item at `price` whose period ends at `periodEnd`: only
 * the fields the entitlements projection reads, since the double serves what it is given.
 */
export function subscriptionItems(subscription: string, price: string, periodEnd: number): Stripe.ApiList<Stripe.SubscriptionItem> {
  const list = {
    object: "list",
    has_more: false,
    url: `/v1/subscription_items?subscription=${subscription}`,
    data: [
      {
        id: `si_${subscription.slice(4)}`,
        object: "subscription_item",
        subscription,
        quantity: 1,
        price: { id: price, object: "price" },
        current_period_start: periodEnd - 30 * 86_400,
        current_period_end: periodEnd,
      },
    ],
  };
  return list as unknown as Stripe.ApiList<Stripe.SubscriptionItem>;
}

/**
 * Starts the double on a free port of 127.0.0.1; `close()` it when the test or suite ends.
 */
export async function startStripeApiDouble(options: StripeApiDoubleOptions): Promise<StripeApiDouble> {
  const now = options.now ?? Date.now;
  const account = options.account ?? "acct_1StripeApiDouble";
  const accountApiVersion = options.accountApiVersion ?? stripeApiVersion;
  const fixtureFile = readFileSync(options.fixturesPath ?? defaultFixturesPath, "utf8");
  const fixtures = (JSON.parse(fixtureFile) as { resources: Record<string, StripeObject> }).resources;

  const keys = new Map<string, readonly StripeApiResource[] | undefined>();
  const restrictKey = (key: string, canRead: readonly StripeApiResource[] | undefined): void => {
    if (canRead !== undefined && !key.startsWith("rk_")) {
      throw new Error("Only restricted keys (rk_...) can lack permissions; a secret key reads everything.");
    }
    keys.set(key, canRead === undefined ? undefined : [...canRead]);
  };
  for (const spec of options.apiKeys) {
    if (typeof spec === "string") restrictKey(spec, undefined);
    else restrictKey(spec.key, spec.canRead);
  }

  const events = new Map<string, StoredEvent>();
  let nextSeq = 0;
  const objects: Record<ObjectResource, Map<string, StripeObject>> = {
    webhook_endpoints: new Map(),
    subscriptions: new Map(),
    customers: new Map(),
    refunds: new Map(),
  };
  const createdRefunds: string[] = [];
  // Per mode and key: the parameters first sent with it and the answer given, as Stripe keeps them.
  const idempotent = new Map<string, { form: string; answer: Answer }>();
  const faults: QueuedFault[] = [];
  const requests: RecordedStripeRequest[] = [];

  const pathMatches = (path: string, filter: string | RegExp | undefined): boolean =>
    filter === undefined || (typeof filter === "string" ? path === filter : filter.test(path));

  const takeFault = (path: string): StripeApiFault | undefined => {
    const index = faults.findIndex((plan) => plan.times > 0 && pathMatches(path, plan.path));
    const plan = faults[index];
    if (plan === undefined) return undefined;
    plan.times -= 1;
    if (plan.times <= 0) faults.splice(index, 1);
    return plan.fault;
  };

  const nowSeconds = (): number => Math.floor(now() / 1000);
  const retained = (event: StoredEvent): boolean => event.created >= nowSeconds() - eventRetentionSeconds;

  const noSuch = (noun: string, id: string, live: boolean, existsInOtherMode: boolean): StripeAnswer => {
    const [keyMode, objectMode] = live ? ["live", "test"] : ["test", "live"];
    const otherMode = existsInOtherMode
      ? `; a similar object exists in ${objectMode} mode, but a ${keyMode} mode key was used to make this request.`
      : "";
    const message = `No such ${noun}: '${id}'${otherMode}`;
    return new StripeAnswer(
      errorAnswer(404, { type: "invalid_request_error", code: "resource_missing", param: "id", message }),
    );
  };

  const serveEvent = (event: StoredEvent): StripeObject => ({
    ...structuredClone(event.body),
    pending_webhooks: event.delivered ? 0 : 1,
  });

  const listEvents = (query: ParsedQuery, live: boolean): Answer => {
    rejectUnknownParameters(query, [
      "created",
      "delivery_success",
      "ending_before",
      "expand",
      "limit",
      "starting_after",
      "type",
      "types",
    ]);
    const limit = parseLimit(query);
    const matchesType = typeMatcher(query);
    const matchesCreated = parseCreated(query);
    const deliveryRaw = query.scalars.get("delivery_success");
    const delivery = deliveryRaw === undefined ? undefined : parseBoolean("delivery_success", deliveryRaw);
    const startingAfter = query.scalars.get("starting_after");
    const endingBefore = query.scalars.get("ending_before");
    if (startingAfter !== undefined && endingBefore !== undefined) {
      throw invalidParam("ending_before", "You may only specify one of these parameters: ending_before, starting_after.");
    }
    const cursorId = startingAfter ?? endingBefore;
    const cursorParam = startingAfter === undefined ? "ending_before" : "starting_after";
    const cursor = cursorId === undefined ? undefined : events.get(cursorId);
    if (cursorId !== undefined && (cursor === undefined || cursor.livemode !== live)) {
      throw invalidParam(cursorParam, `No such event: '${cursorId}'`, "resource_missing");
    }

    const matching = [...events.values()]
      .filter(
        (event) =>
          event.livemode === live &&
          retained(event) &&
          matchesType(event.type) &&
          matchesCreated(event.created) &&
          (delivery === undefined || event.delivered === delivery),
      )
      .sort(newestFirst);

    const { page, hasMore } = pageOf(matching, limit, cursor, cursorParam);
    return { status: 200, body: { object: "list", data: page.map(serveEvent), has_more: hasMore, url: "/v1/events" } };
  };

  const retrieveEvent = (query: ParsedQuery, id: string, live: boolean): Answer => {
    rejectUnknownParameters(query, ["expand"]);
    const event = events.get(id);
    if (event === undefined || !retained(event)) throw noSuch("event", id, live, false);
    if (event.livemode !== live) throw noSuch("event", id, live, true);
    return { status: 200, body: serveEvent(event) };
  };

  const retrieveObject = (resource: ObjectResource, query: ParsedQuery, id: string, live: boolean): Answer => {
    rejectUnknownParameters(query, ["expand"]);
    const object = objects[resource].get(id);
    if (object === undefined) throw noSuch(objectNoun[resource], id, live, false);
    if ((object.livemode === true) !== live) throw noSuch(objectNoun[resource], id, live, true);
    return { status: 200, body: structuredClone(object) };
  };

  const createRefund = (form: URLSearchParams, live: boolean): Answer => {
    const known = ["payment_intent", "charge", "amount", "reason"];
    for (const name of form.keys()) {
      if (!known.includes(name) && !/^metadata\[[^\]]+\]$/.test(name)) {
        throw invalidParam(name, `Received unknown parameter: ${name}`, "parameter_unknown");
      }
    }
    const paymentIntent = form.get("payment_intent");
    const charge = form.get("charge");
    if (paymentIntent === null && charge === null) {
      const message = "One of the following params should be provided for this request: payment_intent or charge.";
      throw invalidParam("payment_intent", message, "parameter_missing");
    }
    const amountText = form.get("amount");
    const base = fixtures.refund;
    if (base === undefined) throw new Error('The Stripe fixtures hold no "refund" object.');
    const metadata = Object.fromEntries(
      [...form].filter(([name]) => name.startsWith("metadata[")).map(([name, value]) => [name.slice(9, -1), value]),
    );
    const refund: StripeObject = {
      ...structuredClone(base),
      id: `re_${newRequestId().slice(4)}`,
      amount: amountText === null ? base.amount : parseInteger("amount", amountText),
      charge,
      payment_intent: paymentIntent,
      reason: form.get("reason"),
      metadata,
      created: nowSeconds(),
      livemode: live,
      status: "succeeded",
    };
    objects.refunds.set(String(refund.id), refund);
    createdRefunds.push(String(refund.id));
    return { status: 200, body: structuredClone(refund) };
  };

  // Stripe's idempotency layer: a key's first executed answer is kept and replayed for the same
  // parameters; other parameters under the same key are refused.
  const withIdempotency = (key: string | undefined, form: URLSearchParams, live: boolean, execute: () => Answer): Answer => {
    if (key === undefined) return execute();
    const slot = `${live ? "live" : "test"}:${key}`;
    const sent = [...form].sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => `${name}=${value}`).join("&");
    const kept = idempotent.get(slot);
    if (kept !== undefined) {
      if (kept.form !== sent) {
        throw new StripeAnswer(
          errorAnswer(400, {
            type: "idempotency_error",
            message:
              "Keys for idempotent requests can only be used with the same parameters they were first used with. " +
              `Try using a key other than '${key}' if you meant to execute a different request.`,
          }),
        );
      }
      return { ...kept.answer, headers: { ...kept.answer.headers, "Idempotent-Replayed": "true" } };
    }
    // A request that fails validation throws here and is not kept, as at Stripe.
    const answer = execute();
    idempotent.set(slot, { form: sent, answer });
    return answer;
  };

  const route = (method: string, path: string): { resource: StripeApiResource; id: string | undefined } | undefined => {
    if (method === "POST") return path === "/v1/refunds" ? { resource: "refunds", id: undefined } : undefined;
    if (method !== "GET") return undefined;
    const match = /^\/v1\/(events|webhook_endpoints|subscriptions|customers|refunds)(?:\/([^/]+))?$/.exec(path);
    if (!match) return undefined;
    const resource = match[1] as StripeApiResource;
    const id = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    // Only events can be listed here.
    if (id === undefined && resource !== "events") return undefined;
    return { resource, id };
  };

  const answerRequest = (request: IncomingMessage, url: URL, form: URLSearchParams): Answer => {
    const key = presentedKey(request);
    if (key === undefined) {
      return errorAnswer(401, {
        type: "invalid_request_error",
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, " +
          "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). " +
          "See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      });
    }
    if (!keys.has(key)) {
      return errorAnswer(401, { type: "invalid_request_error", message: `Invalid API Key provided: ${maskKey(key)}` });
    }
    const method = request.method ?? "GET";
    const target = route(method, url.pathname);
    if (target === undefined) {
      return errorAnswer(404, {
        type: "invalid_request_error",
        message:
          `Unrecognized request URL (${method}: ${url.pathname}). ` +
          "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
      });
    }
    const canRead = keys.get(key);
    if (canRead !== undefined && !canRead.includes(target.resource)) {
      return errorAnswer(403, {
        type: "invalid_request_error",
        message:
          `The provided key '${maskKey(key)}' does not have the required permissions for this endpoint on account ` +
          `'${account}'. Having the '${readPermission[target.resource]}' permission would allow this request to continue.`,
      });
    }
    const live = keyIsLive(key);
    if (method === "POST") {
      return withIdempotency(header(request, "idempotency-key"), form, live, () => createRefund(form, live));
    }
    const query = parseQuery(url.searchParams);
    if (target.resource === "events") {
      return target.id === undefined ? listEvents(query, live) : retrieveEvent(query, target.id, live);
    }
    if (target.id === undefined) throw new Error("unreachable: only events are listed");
    return retrieveObject(target.resource, query, target.id, live);
  };

  const faultAnswer = (fault: "rate-limit" | "lock-timeout" | "api-error" | "card-declined"): Answer => {
    if (fault === "rate-limit") {
      return errorAnswer(429, {
        type: "invalid_request_error",
        code: "rate_limit",
        message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
      });
    }
    if (fault === "lock-timeout") {
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
    }
    if (fault === "card-declined") {
      return errorAnswer(402, { type: "card_error", code: "card_declined", message: "Your card was declined." });
    }
    return errorAnswer(500, {
      type: "api_error",
      message: "An unknown error occurred. Please try again; if the problem persists, contact Stripe support.",
    });
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    // The SDK sends no body on GET; whatever comes is read, so the connection stays usable.
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => serve(request, response, Buffer.concat(chunks).toString("utf8")));
  });

  const serve = (request: IncomingMessage, response: ServerResponse, body: string): void => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const record: RecordedStripeRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: new URLSearchParams(url.searchParams),
      stripeVersion: header(request, "stripe-version"),
      idempotencyKey: header(request, "idempotency-key"),
      stripeAccount: header(request, "stripe-account"),
      form: new URLSearchParams(request.method === "POST" ? body : ""),
      userAgent: header(request, "user-agent"),
      clientUserAgent: header(request, "x-stripe-client-user-agent"),
      answer: undefined,
    };
    requests.push(record);

    const fault = takeFault(url.pathname);
    if (fault === "hang") {
      record.answer = "hang";
      return;
    }
    if (fault === "close") {
      record.answer = "close";
      request.socket.destroy();
      return;
    }

    let answer: Answer;
    try {
      answer = fault === undefined ? answerRequest(request, url, record.form) : faultAnswer(fault);
    } catch (error) {
      // A bug in the double answers 500 with its message instead of crashing the test run.
      answer =
        error instanceof StripeAnswer
          ? error.answer
          : errorAnswer(500, { type: "api_error", message: `Stripe API double failed: ${String(error)}` });
    }
    record.answer = answer.status;
    const text = JSON.stringify(answer.body);
    response.writeHead(answer.status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
      "Request-Id": newRequestId(),
      "Stripe-Version": record.stripeVersion ?? accountApiVersion,
      ...answer.headers,
    });
    response.end(text);
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const setObject = (resource: ObjectResource, fields: object): StripeObject => {
    const patch = structuredClone(fields) as StripeObject;
    const id = typeof patch.id === "string" ? patch.id : undefined;
    const existing = id === undefined ? undefined : objects[resource].get(id);
    const base = existing ?? structuredClone(fixtures[fixtureName[resource]]);
    if (base === undefined) throw new Error(`The Stripe fixtures hold no "${fixtureName[resource]}" object.`);
    const object: StripeObject = { ...base, ...patch };
    if (typeof object.id !== "string") throw new Error(`${fixtureName[resource]} has no id`);
    objects[resource].set(object.id, object);
    return structuredClone(object);
  };

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    addEvent(event, eventOptions = {}) {
      const id = requireString(event, "id");
      if (!id.startsWith("evt_")) throw new Error(`addEvent: "${id}" is not an event id (evt_...)`);
      if (events.has(id)) throw new Error(`addEvent: event ${id} already exists`);
      const created = event.created;
      if (typeof created !== "number" || !Number.isInteger(created)) {
        throw new Error(`addEvent: ${id} has no integer "created"`);
      }
      const livemode = event.livemode;
      if (typeof livemode !== "boolean") throw new Error(`addEvent: ${id} has no boolean "livemode"`);
      nextSeq += 1;
      events.set(id, {
        seq: nextSeq,
        id,
        created,
        type: requireString(event, "type"),
        livemode,
        delivered: eventOptions.delivered ?? true,
        body: structuredClone(event),
      });
    },
    setDelivered(eventId, delivered) {
      const event = events.get(eventId);
      if (event === undefined) throw new Error(`setDelivered: no event ${eventId}`);
      event.delivered = delivered;
    },
    setEndpoint: (fields) => setObject("webhook_endpoints", fields),
    setSubscription: (fields) => setObject("subscriptions", fields),
    setCustomer: (fields) => setObject("customers", fields),
    refunds: () => createdRefunds.flatMap((id) => {
      const refund = objects.refunds.get(id);
      return refund === undefined ? [] : [structuredClone(refund)];
    }),
    restrictKey(key, canRead) {
      if (!keys.has(key)) throw new Error("restrictKey: the double does not know this key");
      restrictKey(key, canRead);
    },
    failNext(plan) {
      const times = plan.times ?? 1;
      if (!(times >= 1)) throw new Error("failNext: times must be at least 1");
      faults.push({ fault: plan.fault, times, path: plan.path });
    },
    clearFaults() {
      faults.length = 0;
    },
    requestCount(path) {
      return requests.filter((request) => pathMatches(request.path, path)).length;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets and hung requests would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}
