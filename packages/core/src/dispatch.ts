import type Stripe from "stripe";
import { isCatalogEventType, type CatalogEventType } from "./catalog.ts";
import type { EffectItem, EffectStager } from "./effects.ts";
import type { WebhookLogger } from "./logger.ts";

/** Each catalog type mapped to the `stripe` package's event type for it. */
export type CatalogEventMap = { [K in CatalogEventType]: Extract<Stripe.Event, { type: K }> };

/** Any event of a catalog type. */
export type CatalogEvent = CatalogEventMap[CatalogEventType];

/** What a handler gets besides its event. */
export interface HandlerContext {
  logger: WebhookLogger;
  /** 1 on the first delivery that claimed the event, higher on retries after a failure. */
  attempt: number;
  /**
   * The stage's Stripe API client (key from `sst.Secret("StripeApiKey")`, API version pinned to
   * the endpoint's, bounded retries and timeout), created on first use so that handlers that
   * never call Stripe cost nothing. Throws `ConfigurationError` when no key is configured.
   */
  readonly stripe: Stripe;
  /**
   * Whether the stage has an API key for `stripe`. Always true on a deployed stage (preflight
   * refuses one without it); false locally without STRIPE_API_KEY, where a handler that needs the
   * API should skip its work and say so rather than fail every event.
   */
  readonly stripeConfigured: boolean;
  /**
   * A stable idempotency key for a Stripe call this handler makes, from the event id and a
   * `purpose` of your choosing (e.g. `refund`): the same on every redelivery, reconciler run and
   * replay of the event, so Stripe performs the call once (it keeps keys about 24 hours).
   */
  idempotencyKey(purpose: string): string;
  /**
   * DynamoDB writes to commit with the event, atomically with the ledger's completion and only if
   * this run still holds the claim: exactly once, whatever crashes in between.
   */
  effects: EffectStager;
  /**
   * Reads one app item (a key starting with `app#`) of the ledger table, consistently, as plain
   * JavaScript; undefined when it does not exist. Absent where the pipeline has no table to read
   * (a handler then acts as if the item were missing).
   */
  readItem?: (key: EffectItem) => Promise<Record<string, unknown> | undefined>;
}

/** What a handler did, in one short line; the ledger records it as the event's `outcome`. */
export interface HandlerResult {
  outcome: string;
}

/** A handler for one event type; throwing marks the event `failed` so Stripe retries it. */
export type EventHandler<K extends CatalogEventType> = (
  event: CatalogEventMap[K],
  context: HandlerContext,
) => Promise<HandlerResult>;

/**
 * The dispatch registry: exactly one handler per catalog type, each typed for its event. A type
 * added to the catalog does not compile until it has a handler here, and a handler for a type
 * outside the catalog does not compile either, so infra's subscription and the code agree.
 */
export type HandlerRegistry = { readonly [K in CatalogEventType]: EventHandler<K> };

/** True when the event's type is in the catalog, narrowing the event to the catalog's types. */
export function isCatalogEvent(event: Stripe.Event): event is CatalogEvent {
  return isCatalogEventType(event.type);
}

/**
 * Runs the registry's handler for a catalog event. Generic over the type so the handler and
 * the event are checked as a pair, without a cast.
 */
export function dispatch<K extends CatalogEventType>(
  registry: HandlerRegistry,
  event: CatalogEventMap[K] & { type: K },
  context: HandlerContext,
): Promise<HandlerResult> {
  const handler: EventHandler<K> = registry[event.type];
  return handler(event, context);
}
