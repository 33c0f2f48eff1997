import type { HandlerRegistry, HandlerResult } from "./dispatch.ts";

/*
 * Example handlers, one per catalog type: each logs what it would act on and reports an outcome
 * the ledger records. They are placeholders users replace with their own effects (grant access,
 * send a receipt, dun a customer), kept small on purpose. They log ids and amounts only, never
 * names, emails or addresses from the payload.
 */

type Expandable = string | { id: string } | null | undefined;

// Stripe fields that can be expanded hold either an id or the object; either way we want the id.
function idOf(value: Expandable): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? value : value.id;
}

function done(outcome: string): HandlerResult {
  return { outcome };
}

/** The registry the deployed function uses: one example handler for each catalog type. */
export const exampleHandlers: HandlerRegistry = {
  async "checkout.session.completed"(event, { logger }) {
    const session = event.data.object;
    const customer = idOf(session.customer);
    logger.info("Checkout completed: fulfil the order", {
      sessionId: session.id,
      customer,
      mode: session.mode,
      paymentStatus: session.payment_status,
      amountTotal: session.amount_total,
      currency: session.currency,
    });
    return done(`fulfil ${session.id} (${session.payment_status}) for ${customer ?? "guest"}`);
  },

  async "customer.subscription.created"(event, { logger }) {
    const subscription = event.data.object;
    logger.info("Subscription created: provision access", {
      subscriptionId: subscription.id,
      customer: idOf(subscription.customer),
      status: subscription.status,
    });
    return done(`provision ${subscription.id} (${subscription.status})`);
  },

  async "customer.subscription.updated"(event, { logger }) {
    const subscription = event.data.object;
    // Which fields changed, not their values: enough to decide what to sync.
    const changed = Object.keys(event.data.previous_attributes ?? {});
    logger.info("Subscription updated: sync access", {
      subscriptionId: subscription.id,
      customer: idOf(subscription.customer),
      status: subscription.status,
      changed,
    });
    return done(`sync ${subscription.id} (${subscription.status}; changed: ${changed.join(", ") || "nothing"})`);
  },

  async "customer.subscription.deleted"(event, { logger }) {
    const subscription = event.data.object;
    logger.info("Subscription deleted: revoke access", {
      subscriptionId: subscription.id,
      customer: idOf(subscription.customer),
    });
    return done(`revoke ${subscription.id}`);
  },

  async "invoice.paid"(event, { logger }) {
    const invoice = event.data.object;
    logger.info("Invoice paid: record the payment", {
      invoiceId: invoice.id,
      customer: idOf(invoice.customer),
      amountPaid: invoice.amount_paid,
      currency: invoice.currency,
    });
    return done(`record payment of ${invoice.amount_paid} ${invoice.currency} on ${invoice.id ?? "invoice"}`);
  },

  async "invoice.payment_failed"(event, { logger }) {
    const invoice = event.data.object;
    logger.warn("Invoice payment failed: notify the customer", {
      invoiceId: invoice.id,
      customer: idOf(invoice.customer),
      attemptCount: invoice.attempt_count,
      nextPaymentAttempt: invoice.next_payment_attempt,
    });
    const customer = idOf(invoice.customer) ?? "customer";
    return done(`notify ${customer} of failed attempt ${invoice.attempt_count} on ${invoice.id ?? "invoice"}`);
  },
};
