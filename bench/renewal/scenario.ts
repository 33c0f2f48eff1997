import { buildEvent, newEventId } from "@stripe-webhooks/stripe-fixtures/events";
import { seededRandom, shuffle } from "@stripe-webhooks/testing/random";
import type Stripe from "stripe";
import { subscriptionItems } from "@stripe-webhooks/testing/stripe-api-double";
import type { Payload } from "../shared/events.ts";

/*
 * A renewal day for `customers` customers: each one's subscription renewed at Stripe, which
 * sends two customer.subscription.updated and an invoice.paid about it. Their payloads are
 * stale (a past_due copy without items), as a payload can be by the time it is handled; the API
 * double holds the truth the handlers must fetch. A third of the events are delivered twice.
 */

export interface RenewalEvent extends Payload {
  customer: string;
  subscription: string;
}

export interface Renewal {
  events: RenewalEvent[];
  /** Every delivery in the order they are made; a redelivery comes some time after its original. */
  deliveries: RenewalEvent[];
  /** The current state at Stripe, by customer: what each projection must end equal to. */
  truth: Map<string, { subscription: string; status: "active"; priceId: string; currentPeriodEnd: number }>;
}

const price = "price_renewal_pro";

/**
 * Sets the customers' subscriptions on the double and builds their events, created
 * `createdSecondsAgo` before now in the order Stripe made them, and the deliveries, shuffled
 * by `seed` within a window so each customer's events are in flight together.
 */
export function renewalScenario(double: { setSubscription(fields: Partial<Stripe.Subscription>): unknown }, options: { customers: number; seed: number; createdSecondsAgo: number }): Renewal {
  const random = seededRandom(options.seed);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const periodEnd = nowSeconds + 30 * 86_400;
  const truth: Renewal["truth"] = new Map();
  const events: RenewalEvent[] = [];
  for (let index = 0; index < options.customers; index += 1) {
    const tag = `${options.seed.toString(36)}x${index.toString(36)}${Math.floor(random() * 1e9).toString(36)}`;
    const customer = `cus_renewal${tag}`;
    const subscription = `sub_renewal${tag}`;
    double.setSubscription({ id: subscription, customer, status: "active", cancel_at_period_end: false, items: subscriptionItems(subscription, price, periodEnd) });
    truth.set(customer, { subscription, status: "active", priceId: price, currentPeriodEnd: periodEnd });
    const created = nowSeconds - options.createdSecondsAgo + Math.floor((index / options.customers) * 10);
    const stale = { id: subscription, customer, status: "past_due", items: undefined };
    const invoiceParent = { type: "subscription_details", quote_details: null, subscription_details: { metadata: null, subscription } };
    const built = [
      buildEvent("customer.subscription.updated", { id: newEventId(), created, object: stale }),
      buildEvent("invoice.paid", { id: newEventId(), created, object: { customer, parent: invoiceParent, subscription: undefined } }),
      buildEvent("customer.subscription.updated", { id: newEventId(), created, object: stale }),
    ];
    for (const event of built) {
      events.push({ id: String(event.id), type: String(event.type), body: JSON.stringify(event), customer, subscription });
    }
  }
  return { events, deliveries: deliveryOrder(events, random), truth };
}

// In creation order, each shifted a little so neighbours swap; a third delivered again later on.
function deliveryOrder(events: readonly RenewalEvent[], random: () => number): RenewalEvent[] {
  const window = 12;
  const keyed = events.map((event, index) => ({ event, key: index + random() * window }));
  const redelivered = shuffle(random, [...events]).slice(0, Math.round(events.length / 3));
  for (const event of redelivered) {
    const original = events.indexOf(event);
    keyed.push({ event, key: original + window + random() * events.length });
  }
  return keyed.sort((a, b) => a.key - b.key).map((entry) => entry.event);
}
