import type Stripe from "stripe";
import type { Fixtures } from "./fixtures.ts";
import { objectResource, type ObjectResource } from "./objects.ts";
import { stripeKeyPermission } from "@stripe-webhooks/core/stripe-permissions";

/** `GET /v1/subscriptions/:id`. */
export function subscriptionsResource(fixtures: Fixtures): ObjectResource {
  return objectResource(
    { resource: "subscriptions", permission: stripeKeyPermission("rak_subscription_read").code, fixture: "subscription", noun: "subscription" },
    fixtures,
  );
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
