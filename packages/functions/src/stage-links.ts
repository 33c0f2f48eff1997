import type { AppSettings } from "@stripe-webhooks/core/app";
import { Resource } from "sst/resource";

/**
 * What every deployed function that processes events reads from its links and environment: the
 * ledger, the stage's mode, and the handlers' Stripe key and API base. Called on first use, not
 * at import, so a missing link fails inside the request's error handling.
 */
export function linkedStage(): AppSettings {
  return {
    tableName: Resource.Ledger.name,
    mode: process.env.STRIPE_MODE,
    // Read here, used only when a handler first calls Stripe.
    stripeApiKey: Resource.StripeApiKey.value,
    stripeApiBase: process.env.STRIPE_API_BASE,
  };
}
