import { eventCatalog } from "@stripe-webhooks/core/catalog";
import {
  formatSecretList,
  overrideVariable,
  resolveTrustedSecrets,
  webhookSecretName,
  withoutSecretProblem,
} from "@stripe-webhooks/core/signing-secrets";
import { stripeApiVersion } from "@stripe-webhooks/core/stripe-version";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { secretBindings, settings, sharedEndpointId } from "./preflight";
import { router } from "./router";
import { endpointResourceName } from "./stage";

/** The public URL Stripe posts to. */
export const webhookUrl = $interpolate`${router.url}${webhookPath}`;

/**
 * The stage's Stripe webhook endpoints, one per API version in its settings: the pinned version
 * first, then the one draining during an upgrade. They all post to the router's URL and
 * subscribe to exactly the handled event types, so Stripe sends every event to each of them
 * under the same event id, and the ledger runs it once. The provider reads its API key from
 * STRIPE_API_KEY at deploy time.
 *
 * `apiVersion` and `connect` cannot change in place (the provider replaces the endpoint): a new
 * version is a new endpoint beside the old one (README, "Upgrade Stripe's API version"), and
 * `connect` is never set.
 */
const apiVersions =
  settings.endpoint.kind === "managed"
    ? [stripeApiVersion, ...settings.endpoint.apiVersions.filter((version) => version !== stripeApiVersion)]
    : [];

export const endpoints = apiVersions.map(
  (apiVersion) =>
    new stripe.WebhookEndpoint(endpointResourceName(apiVersion), {
      url: webhookUrl,
      enabledEvents: [...eventCatalog],
      apiVersion,
      description: `${$app.name} (${$app.stage})`,
      metadata: { app: $app.name, stage: $app.stage },
    }),
);

/** The endpoint Stripe delivers the pinned API version through, or the shared one. */
export const endpointId = endpoints[0]?.id ?? $output(sharedEndpointId ?? "");

/** During an upgrade: the endpoint of the previous API version, until it is removed. */
export const drainingEndpointId = endpoints[1]?.id;

const resolved = $resolve(endpoints.map((endpoint) => $resolve([endpoint.id, endpoint.secret]))).apply((pairs) => {
  const { trusted, stray, withoutSecret } = resolveTrustedSecrets(
    pairs.map(([id, creationSecret]) => ({ id, creationSecret })),
    secretBindings,
    settings.revokedSecretFingerprints,
  );
  if (withoutSecret.length > 0) {
    // Only after a roll and `sst secret remove`: the endpoint's creation secret is the revoked one.
    // A function trusting it would accept forgeries; one trusting nothing would refuse every delivery.
    throw new Error(withoutSecret.map((id) => withoutSecretProblem(id, $app.stage)).join("\n"));
  }
  if (stray.length > 0) {
    // Bound to an endpoint the stage no longer has (it was replaced or removed), or a
    // `--fallback` meant for the shared preview endpoint. Trusting only those would refuse every
    // delivery of the stage's own endpoints, so those keep their own secrets.
    $util.log.warn(
      `${webhookSecretName} holds secrets for ${stray.join(", ")}, which is not an endpoint of stage "${$app.stage}"; ` +
        'they are ignored and the endpoint\'s own signing secret is trusted (README, "Rotate the signing secret").',
    );
  }
  return trusted;
});

/**
 * What the handler reads as `Resource.StripeWebhookSecret.value`: every secret it trusts, each
 * bound to its endpoint (`we_...:whsec_...,...`, the form `sst secret set` takes). Its placeholder
 * is derived from the endpoints' own secrets, the Output SST accepts for exactly this case.
 */
export const webhookSecret = withoutRawOverride(
  () => new sst.Secret(webhookSecretName, $util.secret(resolved.apply(formatSecretList))),
);

/**
 * SST gives a value set with `sst secret set` precedence over the placeholder: the Secret reads
 * SST_SECRET_<name> while it is constructed. preflight has already read that override, and it is
 * resolved per endpoint above, so the Secret must take the resolved list, never the raw override
 * (which may be bound to an endpoint the stage no longer has). The variable is hidden only while
 * the Secret is built; test/infra/synth.test.ts pins the platform behaviour this relies on.
 */
function withoutRawOverride<T>(build: () => T): T {
  const raw = process.env[overrideVariable];
  delete process.env[overrideVariable];
  try {
    return build();
  } finally {
    if (raw !== undefined) process.env[overrideVariable] = raw;
  }
}

/**
 * The key the functions read Stripe's API with: the reconciler lists events and reads the
 * endpoint, handlers retrieve objects (README, "The API key"). Set once per stage with
 * `sst secret set StripeApiKey rk_...`; preflight refuses a deploy without it. Not the deploy's
 * STRIPE_API_KEY, which can write webhook endpoints and is never stored.
 */
export const stripeApiKey = new sst.Secret("StripeApiKey");

/**
 * The stage's endpoints for the reconciler: the pinned one (its status is reported, its id keys
 * the reconciler's state) and, during an API-version upgrade, the draining one, whose creation
 * still bounds the window of events meant for this stage. Its `mode` is the stage's Stripe mode
 * from infra/stage.ts, so that the operator tools under `sst shell` learn it from the link
 * instead of importing the infrastructure code.
 */
export const stripeEndpoint = new sst.Linkable("StripeEndpoint", {
  properties: {
    id: endpointId,
    drainingId: drainingEndpointId ?? $output(""),
    mode: settings.mode,
    // Where each endpoint's trusted secrets come from, for `npm run signing-secrets` under
    // `sst shell`: no secret in it, only endpoint ids.
    overriddenIds: resolved.apply((trusted) => [
      ...new Set(trusted.filter((secret) => secret.origin === "override").map((secret) => secret.endpointId)),
    ]),
  },
});
