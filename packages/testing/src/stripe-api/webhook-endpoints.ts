import type { Fixtures } from "./fixtures.ts";
import { objectResource, type ObjectResource } from "./objects.ts";
import { stripeKeyPermission } from "@stripe-webhooks/core/stripe-permissions";

/** `GET /v1/webhook_endpoints/:id`. */
export function webhookEndpointsResource(fixtures: Fixtures): ObjectResource {
  return objectResource(
    { resource: "webhook_endpoints", permission: stripeKeyPermission("rak_webhook_endpoint_read").code, fixture: "webhook_endpoint", noun: "webhook endpoint" },
    fixtures,
  );
}
