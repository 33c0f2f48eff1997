import { noSuch, type StripeObject } from "./answers.ts";
import { fixtureObject, type Fixtures } from "./fixtures.ts";
import { readQuery } from "./query.ts";
import { pathId, type Endpoint, type ResourceModule, type StripeApiResource } from "./resource.ts";

/*
 * Resources the double serves as single objects by id, stored as the test sets them: the next
 * request sees every change.
 */

export interface ObjectResourceSpec {
  resource: StripeApiResource;
  permission: string;
  /** The object's name in Stripe's example fixtures, which new objects start from. */
  fixture: string;
  /** How Stripe names the object in "No such ..." messages. */
  noun: string;
}

export interface ObjectResource extends ResourceModule {
  /** The stored objects by id (not copies: the resource's own endpoints may add to them). */
  readonly store: Map<string, StripeObject>;
  /** Creates or changes an object (by `id`; new ones start from Stripe's example); returns a copy. */
  set(fields: object): StripeObject;
  /** `GET /v1/<resource>/:id`: the stored object, or a 404 resource_missing with `param: "id"`. */
  readonly retrieve: Endpoint;
}

export function objectResource(spec: ObjectResourceSpec, fixtures: Fixtures): ObjectResource {
  const store = new Map<string, StripeObject>();
  const retrieve: Endpoint = {
    method: "GET",
    path: `/v1/${spec.resource}/:id`,
    answer: (request) => {
      const { query, live } = request;
      const id = pathId(request);
      readQuery(query, ["expand"]);
      const object = store.get(id);
      if (object === undefined) throw noSuch(spec.noun, id, live, false);
      if ((object.livemode === true) !== live) throw noSuch(spec.noun, id, live, true);
      return { status: 200, body: structuredClone(object) };
    },
  };
  return {
    resource: spec.resource,
    permission: spec.permission,
    endpoints: [retrieve],
    store,
    retrieve,
    set(fields) {
      const patch = structuredClone(fields) as StripeObject;
      const id = typeof patch.id === "string" ? patch.id : undefined;
      const existing = id === undefined ? undefined : store.get(id);
      const object: StripeObject = { ...(existing ?? fixtureObject(fixtures, spec.fixture)), ...patch };
      if (typeof object.id !== "string") throw new Error(`${spec.fixture} has no id`);
      store.set(object.id, object);
      return structuredClone(object);
    },
  };
}
