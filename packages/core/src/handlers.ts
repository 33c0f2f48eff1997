import type Stripe from "stripe";
import type { HandlerContext, HandlerRegistry, HandlerResult } from "./dispatch.ts";
import {
  checkoutSessionSubscription,
  customerOf,
  invoiceSubscription,
  noSubscription,
  syncSubscription,
} from "./entitlements.ts";

/*
 * The example handlers, one per catalog type: together they keep the entitlements projection
 * (entitlements.ts). Each one only finds which subscription its event concerns and syncs it from
 * Stripe's API; nothing is taken from the payload's copy of the subscription, so the order,
 * repetition and completeness of payloads do not matter. Events about no subscription (a one-off
 * Checkout payment, an invoice of its own) report so and change nothing. The customer a payload
 * names only locates the stored state that may make the fetch unnecessary.
 */

// Paid, failed or awaiting action alike: the subscription's fetched state says what the customer is entitled to.
async function syncInvoice(
  event: { account?: string; created: number; data: { object: Stripe.Invoice } },
  context: HandlerContext,
): Promise<HandlerResult> {
  const invoice = event.data.object;
  const subscription = invoiceSubscription(invoice);
  if (subscription === undefined) return noSubscription(context, "invoice", invoice.id);
  return syncSubscription(subscription, event, context, customerOf(invoice.customer));
}

function syncOwnSubscription(
  event: { account?: string; created: number; data: { object: Stripe.Subscription } },
  context: HandlerContext,
): Promise<HandlerResult> {
  const subscription = event.data.object;
  return syncSubscription(subscription.id, event, context, customerOf(subscription.customer));
}

/** The registry the deployed function uses: the entitlements projection's handlers. */
export const entitlementHandlers: HandlerRegistry = {
  async "checkout.session.completed"(event, context) {
    const session = event.data.object;
    const subscription = checkoutSessionSubscription(session);
    if (subscription === undefined) return noSubscription(context, `${session.mode} checkout session`, session.id);
    return syncSubscription(subscription, event, context, customerOf(session.customer));
  },

  "customer.subscription.created": syncOwnSubscription,
  "customer.subscription.updated": syncOwnSubscription,
  "customer.subscription.paused": syncOwnSubscription,
  "customer.subscription.resumed": syncOwnSubscription,
  // The API still returns a deleted subscription, as canceled, which is what the projection keeps.
  "customer.subscription.deleted": syncOwnSubscription,

  "invoice.paid": syncInvoice,
  "invoice.payment_failed": syncInvoice,
  "invoice.payment_action_required": syncInvoice,
};
