import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Stripe from "stripe";

/*
 * Builds realistic Stripe events from Stripe's own example objects (this package's
 * fixtures3.json, see its README) and signs them with the real `stripe` package. Used by the
 * trigger tool, tests and benchmarks; never imported by the deployed handler.
 *
 * This package must not depend on @stripe-webhooks/core: core's tests depend on it, so that
 * would be a package cycle. Events therefore carry the installed SDK's API version by default;
 * core's test/stripe-version.test.ts keeps core's pinned `stripeApiVersion` equal to it, and
 * the trigger tool passes the pinned version explicitly.
 */

type StripeObject = Record<string, unknown>;
interface FixtureFile {
  resources: Record<string, StripeObject>;
}

/** Where Stripe's example objects are read from: `STRIPE_FIXTURES`, else this package's copy. */
export const defaultFixturesPath =
  process.env.STRIPE_FIXTURES || resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures3.json");

const cache = new Map<string, FixtureFile>();

function loadFixtures(path: string): FixtureFile {
  const cached = cache.get(path);
  if (cached) return cached;
  if (!existsSync(path)) {
    throw new Error(`Stripe's example objects are not at ${path}: set STRIPE_FIXTURES to a copy of Stripe's fixtures3.json.`);
  }
  const parsed = JSON.parse(readFileSync(path, "utf8")) as FixtureFile;
  cache.set(path, parsed);
  return parsed;
}

// Event types whose object name is not the type minus its last segment.
const objectNameOverrides: Record<string, string> = {
  "customer.subscription": "subscription",
};

/**
 * The fixture object name for an event type: `invoice.paid` -> `invoice`,
 * `customer.subscription.created` -> `subscription`, `checkout.session.completed` ->
 * `checkout.session`. Undefined when the fixtures hold no such object.
 */
export function fixtureObjectName(type: string, fixturesPath = defaultFixturesPath): string | undefined {
  const resources = loadFixtures(fixturesPath).resources;
  const base = type.split(".").slice(0, -1).join(".");
  const candidates = [objectNameOverrides[base], base, base.split(".").at(-1)];
  return candidates.find((name): name is string => name !== undefined && name in resources);
}

/** Every event type that {@link buildEvent} can build, given the type list it is asked about. */
export function buildableTypes(types: readonly string[], fixturesPath = defaultFixturesPath): string[] {
  return types.filter((type) => fixtureObjectName(type, fixturesPath) !== undefined);
}

export interface BuildEventOptions {
  id?: string;
  /** Epoch seconds. */
  created?: number;
  livemode?: boolean;
  /** The event's `api_version`; default the installed SDK's `Stripe.API_VERSION`. */
  apiVersion?: string | null;
  /** Connect account id, present on events from connected accounts. */
  account?: string;
  /** Shallow overrides of the data object. */
  object?: StripeObject;
  fixturesPath?: string;
}

let counter = 0;

/** A fresh `evt_...` id, unique within the process and across processes in practice. */
export function newEventId(): string {
  counter += 1;
  const random = Math.random().toString(36).slice(2, 10);
  return `evt_test_${Date.now().toString(36)}${counter.toString(36)}${random}`;
}

/**
 * Wraps Stripe's example object for `type` in a real event envelope. Throws when the fixtures
 * hold no object for the type.
 */
export function buildEvent(type: string, options: BuildEventOptions = {}): StripeObject {
  const fixturesPath = options.fixturesPath ?? defaultFixturesPath;
  const objectName = fixtureObjectName(type, fixturesPath);
  if (!objectName) throw new Error(`No Stripe fixture object for event type "${type}"`);
  const base = loadFixtures(fixturesPath).resources[objectName];
  const livemode = options.livemode ?? false;
  const object: StripeObject = { ...structuredClone(base), livemode, ...options.object };
  return {
    id: options.id ?? newEventId(),
    object: "event",
    api_version: options.apiVersion === undefined ? Stripe.API_VERSION : options.apiVersion,
    created: options.created ?? Math.floor(Date.now() / 1000),
    ...(options.account === undefined ? {} : { account: options.account }),
    data: { object },
    livemode,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/**
 * The `Stripe-Signature` header Stripe would send for exactly these bytes, made by the
 * `stripe` package. `timestamp` is epoch seconds (default now).
 */
export function signPayload(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(timestamp === undefined ? {} : { timestamp }),
  });
}

/** A new random signing secret in Stripe's format. */
export function newWebhookSecret(): string {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return `whsec_${Buffer.from(bytes).toString("base64url")}`;
}
