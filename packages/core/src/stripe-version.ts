import Stripe from "stripe";

/**
 * The Stripe API version of the `stripe` package the handler is built with. Infra pins the
 * webhook endpoint's `apiVersion` to it, so the events Stripe sends have exactly the shapes
 * the handler's types describe; upgrading the package moves both together.
 */
export const stripeApiVersion: string = Stripe.API_VERSION;
