import type { Fixtures } from "./fixtures.ts";
import { objectResource, type ObjectResource } from "./objects.ts";

/** `GET /v1/webhook_endpoints/:id`. */
export function webhookEndpointsResource(fixtures: Fixtures): ObjectResource {
  return objectResource(
    { resource: "webhook_endpoints", permission: "rak_webhook_endpoint_read", fixture: "webhook_endpoint", noun: "webhook endpoint" },
    fixtures,
  );
}
