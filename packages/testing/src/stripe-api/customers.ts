import type { Fixtures } from "./fixtures.ts";
import { objectResource, type ObjectResource } from "./objects.ts";

/** `GET /v1/customers/:id`. */
export function customersResource(fixtures: Fixtures): ObjectResource {
  return objectResource(
    { resource: "customers", permission: "rak_customer_read", fixture: "customer", noun: "customer" },
    fixtures,
  );
}
