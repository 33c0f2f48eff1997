import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { oursHandler } from "./ours-handler.ts";

/* "ours": the deployed entry (packages/functions/src/webhook.ts) with the bench's links. */
export const handler = oursHandler(entitlementHandlers);
