// What core/verify.ts imports for signature checks: the whole `stripe` package.
import Stripe from "stripe";

export const webhooks = Stripe.webhooks;
