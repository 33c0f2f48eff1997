import { GetItemCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type Stripe from "stripe";
import type { HandlerContext, HandlerResult } from "./dispatch.ts";
import { effectKeyPrefix } from "./effects.ts";
import { StripeRequestRefusedError, errorSummary } from "./errors.ts";
import { ledgerTable } from "./ledger-table.ts";
import { scanAll } from "./scan.ts";
import { callStripe } from "./stripe-api.ts";

/*
 * The example domain: an entitlements projection, customer -> subscriptions, kept in the ledger's
 * table as staged effects, so each event's write commits exactly once with its completion.
 *
 * Every event only names a subscription; its state is fetched from Stripe's API when the event is
 * handled. Events arrive late, twice, out of order and with partial payloads (Stripe advises not
 * to order them by `created`), but the API always answers with the subscription's current state,
 * so whichever event is handled last writes the truth. What remains is two runs racing: one
 * fetches, the subscription changes, a second fetches and commits, and then the first commits
 * its older answer. Each write therefore carries when its fetch started and is conditioned on
 * being newer than the stored one; the older run's commit fails, its event is recorded failed,
 * and its retry fetches again. That ordering relies on the functions' clocks agreeing to within
 * the time between a change at Stripe and its event's handler starting a fetch, which holds by a
 * wide margin for Lambda's synchronised clocks.
 *
 * A fetch is skipped when the customer's stored state of the subscription was fetched after the
 * event was created (plus {@link syncedAfterEventMarginMs} for the two clocks): that state already
 * includes whatever the event reports, and any later change has an event of its own. A renewal
 * sends two or three events per subscription at once, so behind a queue that holds each
 * customer's events in order, the first one fetches and the others find its state; the outcome
 * says "skipped fetch: synced after the event". Stored states only ever move to a later fetch, so
 * a skip can never read one that goes back on what it saw.
 *
 * A customer can have several subscriptions: one item per customer holds each of them in its own
 * attribute (`subscription#<id>`), so events of different subscriptions never overwrite each
 * other, and {@link currentSubscription} picks the one that matters when the item is read.
 * Deleted (canceled) subscriptions stay in the item with status `canceled`, as the API still
 * returns them: the projection is exactly what the API says, and a late event about a canceled
 * subscription cannot resurrect anything.
 *
 * Handlers log ids and statuses only, never names, emails or addresses. The key's permission for
 * them (Subscriptions: Read) is in stripe-permissions.ts with the rest.
 */

/** Where a customer's entitlement item lives: `app#entitlement#<customer id>`. */
export const entitlementKeyPrefix = `${effectKeyPrefix}entitlement#`;

/** The item's attribute for one subscription: `subscription#<subscription id>`. */
const subscriptionAttributePrefix = "subscription#";

/**
 * How much later than an event's `created` (Stripe's clock) a stored state's fetch must have
 * started (this app's clock) for the event's handler to trust it instead of fetching. It covers,
 * with room to spare: `created` counting whole seconds (the event may be up to a second younger
 * than it says); the offset between two NTP-synchronised clocks (Lambda's hosts sync to Amazon
 * Time Sync, Stripe's to its own sources), which stays well under a second; and the moment
 * between Stripe stamping the event and the change it reports being what its API answers, which
 * Stripe does not document. A larger margin only costs a fetch for events handled within it of
 * their creation, which is when nothing waits in a queue and a fetch is affordable anyway; in a
 * backlog, events wait far longer than this.
 */
export const syncedAfterEventMarginMs = 5_000;

/** What an event says about the subscription it concerns, as far as skipping a fetch goes. */
export interface SyncedEvent {
  /** The connected account the event came from; the fetch is made on it. */
  account?: string | undefined;
  /** When Stripe created the event, epoch seconds. */
  created: number;
}

/** One subscription as the projection keeps it: what access decisions need, no personal data. */
export interface SubscriptionState {
  id: string;
  status: Stripe.Subscription.Status;
  /** The price of the subscription's first item; null for a subscription without items. */
  priceId: string | null;
  /**
   * When the current period ends, in epoch seconds: the earliest end among the items (in this
   * API version periods belong to items), i.e. when the subscription renews next. Null without items.
   */
  currentPeriodEnd: number | null;
  cancelAtPeriodEnd: boolean;
}

/** A stored subscription state, with when it was fetched from Stripe. */
export interface SubscriptionEntitlement extends SubscriptionState {
  /** When the fetch that produced this state started (ISO 8601). */
  syncedAt: string;
}

/** A customer's entitlements as read back from the table. */
export interface Entitlement {
  customer: string;
  /** The customer's most relevant subscription ({@link currentSubscription}). */
  subscription: SubscriptionEntitlement;
  /** Every subscription of the customer the app has heard of, most relevant first. */
  subscriptions: SubscriptionEntitlement[];
}

/** The projection of a subscription as the API returns it: the fields {@link SubscriptionState} keeps. */
export function subscriptionState(subscription: Stripe.Subscription): SubscriptionState {
  const items = subscription.items.data;
  const ends = items.map((item) => item.current_period_end).filter((end) => typeof end === "number");
  return {
    id: subscription.id,
    status: subscription.status,
    priceId: items[0]?.price.id ?? null,
    currentPeriodEnd: ends.length === 0 ? null : Math.min(...ends),
    cancelAtPeriodEnd: subscription.cancel_at_period_end,
  };
}

// Lower is more relevant: what grants access first, then what may still recover, then the ended.
const statusRank: Record<string, number> = {
  active: 0,
  trialing: 0,
  past_due: 1,
  unpaid: 2,
  paused: 2,
  incomplete: 3,
  canceled: 4,
  incomplete_expired: 5,
};
const unknownStatusRank = 3;

/**
 * The subscriptions ordered most relevant first: active or trialing, then past due, unpaid or
 * paused, then incomplete, then canceled and expired; within a rank the later period end first,
 * then the id, so the order never depends on how the item was read. The first one is the
 * customer's current subscription.
 */
export function rankSubscriptions<T extends SubscriptionState>(subscriptions: readonly T[]): T[] {
  const rank = (state: SubscriptionState) => statusRank[state.status] ?? unknownStatusRank;
  return [...subscriptions].sort(
    (a, b) =>
      rank(a) - rank(b) || (b.currentPeriodEnd ?? 0) - (a.currentPeriodEnd ?? 0) || a.id.localeCompare(b.id),
  );
}

/** The customer's current subscription among `subscriptions` (see {@link rankSubscriptions}). */
export function currentSubscription<T extends SubscriptionState>(subscriptions: readonly T[]): T | undefined {
  return rankSubscriptions(subscriptions)[0];
}

type Expandable = string | { id: string } | null | undefined;

// Stripe fields that can be expanded hold either an id or the object; either way we want the id.
function idOf(value: Expandable): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? value : value.id;
}

/**
 * The subscription an invoice bills, if any: `parent.subscription_details.subscription` when the
 * parent is a subscription (this API version), else the top-level `subscription` events rendered
 * in API versions before 2025-03-31 carry (the Events API returns an event in the version it was
 * created with, so the reconciler can meet those).
 */
export function invoiceSubscription(invoice: Stripe.Invoice): string | undefined {
  const parent = invoice.parent;
  if (parent?.type === "subscription_details") return idOf(parent.subscription_details?.subscription);
  if (!("subscription" in invoice)) return undefined;
  const legacy = invoice.subscription;
  if (typeof legacy === "string") return legacy;
  if (typeof legacy === "object" && legacy !== null && "id" in legacy && typeof legacy.id === "string") return legacy.id;
  return undefined;
}

/** The subscription a Checkout Session created, for sessions in subscription mode. */
export function checkoutSessionSubscription(session: Stripe.Checkout.Session): string | undefined {
  return session.mode === "subscription" ? idOf(session.subscription) : undefined;
}

/**
 * Syncs one subscription's entitlement for the event being handled. When the event names the
 * customer (`eventCustomer`) and the customer's stored state of the subscription was fetched more than
 * {@link syncedAfterEventMarginMs} after the event was created, that state already holds the
 * event's change: nothing is fetched or written, and the outcome says the fetch was skipped.
 * Otherwise it fetches the current state (`subscriptions.retrieve`, on the event's connected
 * account if it has one) and stages it as the customer's item's `subscription#<id>` attribute,
 * conditioned on no newer fetch having been stored. A subscription Stripe does not know
 * (`resource_missing`: another account or mode, a fixture) leaves nothing to project and is
 * reported as such; any other Stripe error is thrown, so the event is recorded failed and retried
 * (see `classifyStripeError` for which can succeed later).
 */
export async function syncSubscription(
  subscriptionId: string,
  event: SyncedEvent,
  context: HandlerContext,
  eventCustomer?: string,
): Promise<HandlerResult> {
  if (!context.stripeConfigured) {
    // Only locally: a deployed stage always has its key. Failing would refuse every event.
    context.logger.warn("No Stripe API key: the entitlement is not synced (start with STRIPE_API_KEY=sk_test_...)", {
      subscriptionId,
    });
    return { outcome: `entitlement not synced for ${subscriptionId}: no Stripe API key` };
  }
  const synced = eventCustomer === undefined ? undefined : await syncedAfter(subscriptionId, eventCustomer, event.created, context);
  if (synced !== undefined) {
    context.logger.info("Entitlement synced after the event: fetch skipped", { customer: eventCustomer, subscriptionId, status: synced.status });
    return { outcome: `entitlement ${eventCustomer}: ${subscriptionId} ${synced.status} (skipped fetch: synced after the event)` };
  }
  // Taken before the request: a fetch that starts later cannot see an older state than this one.
  const fetchedAt = Date.now();
  let subscription: Stripe.Subscription;
  try {
    subscription = await callStripe("subscriptions.retrieve", () =>
      context.stripe.subscriptions.retrieve(
        subscriptionId,
        {},
        event.account === undefined ? undefined : { stripeAccount: event.account },
      ),
    );
  } catch (error) {
    if (!(error instanceof StripeRequestRefusedError) || error.code !== "resource_missing") throw error;
    context.logger.warn("Subscription not found at Stripe: no entitlement to keep", { subscriptionId });
    return { outcome: `subscription ${subscriptionId} not found: nothing to project` };
  }
  const customer = idOf(subscription.customer);
  if (customer === undefined) throw new Error(`Subscription ${subscription.id} has no customer`);
  const state = subscriptionState(subscription);
  context.effects.update(
    { [ledgerTable.partitionKey]: `${entitlementKeyPrefix}${customer}` },
    {
      expression: "SET #customer = :customer, #subscription = :state",
      condition: "attribute_not_exists(#subscription) OR #subscription.#fetchedAt < :fetchedAt",
      names: { "#customer": "customer", "#subscription": `${subscriptionAttributePrefix}${state.id}`, "#fetchedAt": "fetchedAt" },
      values: { ":customer": customer, ":state": { ...state, fetchedAt }, ":fetchedAt": fetchedAt },
    },
  );
  context.logger.info("Entitlement synced from Stripe", { customer, subscriptionId: state.id, status: state.status });
  return { outcome: `entitlement ${customer}: ${state.id} ${state.status}` };
}

/**
 * The customer's stored state of the subscription when its fetch started more than the margin
 * after `created` (epoch seconds), else undefined. A read that fails only costs the fetch it
 * would have saved.
 */
async function syncedAfter(
  subscriptionId: string,
  customer: string,
  created: number,
  context: HandlerContext,
): Promise<SubscriptionState | undefined> {
  if (context.readItem === undefined) return undefined;
  const threshold = created * 1000 + syncedAfterEventMarginMs;
  // This clock sets every fetchedAt: until it passes the threshold, no stored fetch can have.
  if (Date.now() <= threshold) return undefined;
  let item: Record<string, unknown> | undefined;
  try {
    item = await context.readItem({ [ledgerTable.partitionKey]: `${entitlementKeyPrefix}${customer}` });
  } catch (error) {
    context.logger.warn("Could not read the stored entitlement: fetching from Stripe", { subscriptionId, error: errorSummary(error) });
    return undefined;
  }
  const stored = item?.[`${subscriptionAttributePrefix}${subscriptionId}`];
  if (!isStoredState(stored) || stored.fetchedAt <= threshold) return undefined;
  return stored;
}

/** A customer id from a field that holds an id or an expanded customer; undefined when absent. */
export function customerOf(value: string | { id: string } | null | undefined): string | undefined {
  return idOf(value);
}

/** What an event that names no subscription (a one-off payment) reports, with its log line. */
export function noSubscription(context: HandlerContext, what: string, id: string | undefined): HandlerResult {
  context.logger.info("No subscription on this event: no entitlement to keep", { objectId: id });
  return { outcome: `no subscription on ${what} ${id ?? ""}`.trimEnd() };
}

type Item = Record<string, AttributeValue>;

function isStoredState(value: unknown): value is SubscriptionState & { fetchedAt: number } {
  if (typeof value !== "object" || value === null) return false;
  const state = value as Record<string, unknown>;
  return (
    typeof state.id === "string" &&
    typeof state.status === "string" &&
    (typeof state.priceId === "string" || state.priceId === null) &&
    (typeof state.currentPeriodEnd === "number" || state.currentPeriodEnd === null) &&
    typeof state.cancelAtPeriodEnd === "boolean" &&
    typeof state.fetchedAt === "number"
  );
}

function toEntitlement(item: Item | undefined): Entitlement | undefined {
  if (!item) return undefined;
  const plain = unmarshall(item);
  const pk = plain[ledgerTable.partitionKey];
  if (typeof pk !== "string" || !pk.startsWith(entitlementKeyPrefix)) return undefined;
  const subscriptions: SubscriptionEntitlement[] = [];
  for (const [name, value] of Object.entries(plain)) {
    // A hand-edited or foreign attribute is skipped rather than guessed at.
    if (!name.startsWith(subscriptionAttributePrefix) || !isStoredState(value)) continue;
    const { fetchedAt, ...state } = value;
    subscriptions.push({
      id: state.id,
      status: state.status,
      priceId: state.priceId,
      currentPeriodEnd: state.currentPeriodEnd,
      cancelAtPeriodEnd: state.cancelAtPeriodEnd,
      syncedAt: new Date(fetchedAt).toISOString(),
    });
  }
  const ranked = rankSubscriptions(subscriptions);
  const [current] = ranked;
  if (current === undefined) return undefined;
  return { customer: pk.slice(entitlementKeyPrefix.length), subscription: current, subscriptions: ranked };
}

/**
 * One customer's entitlements, read consistently; undefined when no event has named one of the
 * customer's subscriptions yet.
 */
export async function getEntitlement(
  client: DynamoDBClient,
  tableName: string,
  customer: string,
): Promise<Entitlement | undefined> {
  const result = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { [ledgerTable.partitionKey]: { S: `${entitlementKeyPrefix}${customer}` } },
      ConsistentRead: true,
    }),
  );
  return toEntitlement(result.Item);
}

/** Filters for {@link listEntitlements}. */
export interface EntitlementFilter {
  /** Only this customer (one read instead of a scan). */
  customer?: string;
}

/**
 * Every customer's entitlements, ordered by customer id. For operators and the local `npm run
 * entitlements` tool: without `customer` it scans the whole table (ledger items included, then
 * filtered out), which is fine for a tool but not for a request path; use {@link getEntitlement} there.
 */
export async function listEntitlements(
  client: DynamoDBClient,
  tableName: string,
  filter: EntitlementFilter = {},
): Promise<Entitlement[]> {
  if (filter.customer !== undefined) {
    const one = await getEntitlement(client, tableName, filter.customer);
    return one === undefined ? [] : [one];
  }
  const items = await scanAll(client, {
    TableName: tableName,
    FilterExpression: "begins_with(#pk, :prefix)",
    ExpressionAttributeNames: { "#pk": ledgerTable.partitionKey },
    ExpressionAttributeValues: { ":prefix": { S: entitlementKeyPrefix } },
    ConsistentRead: true,
  });
  const entitlements = items.map(toEntitlement).filter((entitlement): entitlement is Entitlement => entitlement !== undefined);
  return entitlements.sort((a, b) => a.customer.localeCompare(b.customer));
}
