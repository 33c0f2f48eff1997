import type Stripe from "stripe";

/**
 * The Stripe event types this app handles: the single source of truth. The dispatcher's
 * registry is keyed by exactly these types, and infra subscribes the stage's Stripe webhook
 * endpoint to exactly this list (never `*`), so Stripe never sends an event nobody handles
 * and a handled event can never be missing from the subscription.
 */
export const eventCatalog = [
  "checkout.session.completed",
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "customer.subscription.paused",
  "customer.subscription.resumed",
  "invoice.paid",
  "invoice.payment_failed",
  "invoice.payment_action_required",
] as const satisfies readonly Stripe.Event.Type[];

export type CatalogEventType = (typeof eventCatalog)[number];

/** True when `type` is one of the catalog's event types (narrows it for the registry lookup). */
export function isCatalogEventType(type: string): type is CatalogEventType {
  return (eventCatalog as readonly string[]).includes(type);
}
