import { eventCatalog } from "@stripe-webhooks/core/catalog";
import { stripeApiVersion } from "@stripe-webhooks/core/stripe-version";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { router } from "./router";

/**
 * The stage's Stripe webhook endpoint. The provider reads its API key from STRIPE_API_KEY at
 * deploy time. It posts to the router's URL, subscribes to exactly the handled event types,
 * and pins the API version to the one the handler's `stripe` package was built for.
 */
/** The public URL Stripe posts to. */
export const webhookUrl = $interpolate`${router.url}${webhookPath}`;

export const endpoint = new stripe.WebhookEndpoint("StripeWebhookEndpoint", {
  url: webhookUrl,
  enabledEvents: [...eventCatalog],
  apiVersion: stripeApiVersion,
  description: `${$app.name} (${$app.stage})`,
  metadata: { app: $app.name, stage: $app.stage },
});

/**
 * The signing secret. Its placeholder is the endpoint's own secret, so a fresh stage works
 * with no manual step; `sst secret set StripeWebhookSecret ...` overrides it (rotation).
 */
export const webhookSecret = new sst.Secret("StripeWebhookSecret", endpoint.secret);
