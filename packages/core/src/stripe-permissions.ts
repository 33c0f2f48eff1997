/*
 * The permissions the stage's Stripe API key (`sst.Secret("StripeApiKey")`) needs, in one typed
 * list: preflight's message, README's "The API key" (kept equal by a test) and the test kit's
 * Stripe API double all read it. A restricted key (`rk_...`) with exactly these is enough;
 * handlers that call Stripe add what they call here. Dependency-free, so infra can import it.
 */

/** One permission of a restricted key, as the Dashboard names it and as Stripe's API reports it. */
export interface StripeKeyPermission {
  /** The resource as Dashboard -> Developers -> API keys -> restricted key lists it. */
  dashboard: string;
  access: "Read" | "Write";
  /** How Stripe names it in a 403 (`rak_<resource>_<read|write>`). */
  code: `rak_${string}`;
  /** Who needs it, for README and messages. */
  usedBy: string;
}

export const stripeKeyPermissions = [
  {
    dashboard: "Events",
    access: "Read",
    code: "rak_event_read",
    usedBy: "the reconciler lists events; the queue consumer fetches an event too large to queue",
  },
  {
    dashboard: "Webhook Endpoints",
    access: "Read",
    code: "rak_webhook_endpoint_read",
    usedBy: "the reconciler checks that the endpoint is enabled, and its API version",
  },
  {
    dashboard: "Subscriptions",
    access: "Read",
    code: "rak_subscription_read",
    usedBy: "the example entitlements handlers fetch the event's subscription",
  },
] as const satisfies readonly StripeKeyPermission[];

/** The permission Stripe reports as `code`, from the list. */
export function stripeKeyPermission(code: (typeof stripeKeyPermissions)[number]["code"]): StripeKeyPermission {
  const found = stripeKeyPermissions.find((permission) => permission.code === code);
  if (!found) throw new Error(`No Stripe key permission ${code}`);
  return found;
}

/** The list as one phrase: `Events: Read, Webhook Endpoints: Read and Subscriptions: Read`. */
export function describeStripeKeyPermissions(): string {
  const names = stripeKeyPermissions.map((permission) => `${permission.dashboard}: ${permission.access}`);
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** README's bullet list of the permissions, one line each with who needs it. */
export function stripeKeyPermissionsMarkdown(): string {
  return stripeKeyPermissions.map((permission) => `- *${permission.dashboard}: ${permission.access}*: ${permission.usedBy}.`).join("\n");
}
