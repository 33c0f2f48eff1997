/**
 * The Stripe API version this app is built for, pinned here on purpose rather than read from
 * the `stripe` package: the deployed webhook endpoints' `apiVersion` cannot change in place
 * (the provider replaces the endpoint, with a new secret, and deletes the old one with its
 * pending retries), so a package upgrade must never move it silently.
 *
 * It must equal the installed package's `Stripe.API_VERSION` so that the handler's types
 * describe the events Stripe sends; `test/stripe-version.test.ts` fails when they differ and
 * prints the upgrade procedure (README, "Upgrade Stripe's API version").
 */
export const stripeApiVersion = "2026-10-28.endive" as const;
