import type { Answer } from "./answers.ts";

/**
 * The resources the double serves; a restricted key is granted access per resource. A new
 * resource is a module beside this one, its name here, and one line in the double's list.
 */
export type StripeApiResource = "events" | "webhook_endpoints" | "subscriptions" | "customers" | "refunds";

/** A request as an endpoint sees it: authenticated, permitted, its `:id` decoded. */
export interface EndpointRequest {
  /** Whether the key is a live-mode key: a key only sees objects of its own mode. */
  live: boolean;
  /** The path's `:id`, for paths that have one. */
  id: string | undefined;
  query: URLSearchParams;
  /** The form-encoded parameters of a POST (empty for other methods). */
  form: URLSearchParams;
}

/** One endpoint; a POST goes through Stripe's idempotency layer before `answer`. */
export interface Endpoint {
  method: "GET" | "POST";
  /** `/v1/<resource>` or `/v1/<resource>/:id`. */
  path: string;
  /** The answer, or a thrown `StripeAnswer` for a Stripe error. */
  answer(request: EndpointRequest): Answer;
}

/** One Stripe resource: the permission a restricted key needs for it, and its endpoints. */
export interface ResourceModule {
  resource: StripeApiResource;
  /** Named in 403 messages, following Stripe's `rak_<resource>_<read|write>` pattern. */
  permission: string;
  endpoints: readonly Endpoint[];
}

/** The `:id` of a path that has one (the router always fills it for such paths). */
export function pathId(request: EndpointRequest): string {
  if (request.id === undefined) throw new Error("an endpoint with :id was routed without one");
  return request.id;
}
