import { createHash } from "node:crypto";

/*
 * Which signing secrets a stage trusts, in one module for the deploy (infra/stripe.ts resolves
 * them into the `StripeWebhookSecret` sst.Secret), the function (which reads that value) and the
 * inspection tool (which fingerprints it).
 *
 * The value has one form whoever writes it, `sst secret set` or the deploy:
 *
 *   we_<endpoint id>:whsec_<secret>[,we_<endpoint id>:whsec_<secret>...]
 *
 * Binding each secret to its endpoint is what keeps a replaced endpoint from leaving the function
 * with stale secrets only: an override for an endpoint id the stage no longer has is ignored (with
 * a warning) and the new endpoint's own secret is trusted instead. And an endpoint that has an
 * override trusts only the override, never its creation secret again: after a roll because a
 * secret leaked, that secret must stay refused.
 */

/** The sst.Secret's name, and the variable through which the SST CLI hands the program its override. */
export const webhookSecretName = "StripeWebhookSecret";
export const overrideVariable = `SST_SECRET_${webhookSecretName}`;

/** One signing secret and the endpoint it belongs to. */
export interface BoundSecret {
  endpointId: string;
  secret: string;
}

/** Where a trusted secret came from: Stripe's answer when it created the endpoint, or `sst secret set`. */
export type SecretOrigin = "creation" | "override";

export interface TrustedSecret extends BoundSecret {
  origin: SecretOrigin;
}

export interface ParsedOverride {
  bindings: BoundSecret[];
  problems: string[];
}

const endpointIdFormat = /^we_[A-Za-z0-9_]+$/;
// Stripe's secrets are `whsec_` and base64-ish text (the Dashboard's are 32 characters after the
// prefix, `stripe listen` prints 64 hex digits); at least 8 keeps placeholders such as
// `whsec_...` out without guessing Stripe's exact length.
const secretFormat = /^whsec_[A-Za-z0-9+/=_-]{8,}$/;
const runbook = 'README, "Rotate the signing secret"';

/** How to bind a secret for this stage, with the endpoint id when the caller knows it. */
export function setOverrideCommand(stage: string, endpointId?: string): string {
  return `npx sst secret set ${webhookSecretName} "${endpointId ?? "we_<endpoint id>"}:whsec_..." --stage ${stage}`;
}

/**
 * Parses an override set with `sst secret set StripeWebhookSecret` (`undefined` when none is
 * set) into secrets bound to endpoint ids, with one problem per malformed entry. A plain
 * `whsec_...` (SST's usual one-value form) is refused with the command that binds it, naming the
 * stage and, when the caller knows it, the stage's endpoint id. Problems never quote the value: it
 * holds secrets, or an API key pasted into the wrong place.
 */
export function parseSecretOverride(raw: string | undefined, stage: string, endpointId?: string): ParsedOverride {
  if (raw === undefined) return { bindings: [], problems: [] };
  const entries = raw.split(",").map((entry) => entry.trim());
  const bindings: BoundSecret[] = [];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    const which = entries.length > 1 ? `Entry ${index + 1} of ${webhookSecretName}` : webhookSecretName;
    const colon = entry.indexOf(":");
    const boundTo = colon < 0 ? "" : entry.slice(0, colon);
    const secret = colon < 0 ? entry : entry.slice(colon + 1);
    if (colon < 0 && secretFormat.test(entry)) {
      problems.push(
        `${which} is a signing secret without the endpoint it belongs to. Set it again in the form ` +
          `"we_<endpoint id>:whsec_..." (the endpoint id is the stage's stripeEndpointId output), so that it is never ` +
          `trusted for another endpoint: ${setOverrideCommand(stage, endpointId)} (${runbook}).`,
      );
    } else if (!endpointIdFormat.test(boundTo) || !secretFormat.test(secret)) {
      problems.push(`${which} is not "we_<endpoint id>:whsec_<signing secret>" (${runbook}).`);
    } else {
      bindings.push({ endpointId: boundTo, secret });
    }
  });
  return { bindings, problems };
}

/** What a stage trusts, and what the deploy must report about it. */
export interface ResolvedSecrets {
  trusted: TrustedSecret[];
  /** Endpoint ids the override is bound to that are none of the stage's (a replaced endpoint): ignored. */
  stray: string[];
  /** Endpoints left with no secret because every candidate is revoked: the deploy must stop. */
  withoutSecret: string[];
}

/**
 * The secrets a stage trusts, from its endpoints (id and creation secret, the pinned API
 * version's first) and the override's bindings: for each endpoint, its bound secrets when it has
 * any, else its creation secret. A stage without endpoints of its own (a shared one) trusts
 * exactly its bindings. A secret whose fingerprint is in `revoked` (a leaked one, listed in the
 * stage's settings) is never trusted, whichever way it arrives: after a roll and a later
 * `sst secret remove`, the leaked creation secret would otherwise be trusted again.
 */
export function resolveTrustedSecrets(
  endpoints: readonly { id: string; creationSecret: string }[],
  bindings: readonly BoundSecret[],
  revoked: readonly string[] = [],
): ResolvedSecrets {
  const allowed = (secret: TrustedSecret) => !revoked.includes(secretFingerprint(secret.secret));
  if (endpoints.length === 0) {
    const trusted = bindings.map((binding): TrustedSecret => ({ ...binding, origin: "override" })).filter(allowed);
    const ids = [...new Set(bindings.map((binding) => binding.endpointId))];
    return { trusted, stray: [], withoutSecret: ids.filter((id) => !trusted.some((secret) => secret.endpointId === id)) };
  }
  const ids = endpoints.map((endpoint) => endpoint.id);
  const stray = [...new Set(bindings.map((binding) => binding.endpointId))].filter((id) => !ids.includes(id));
  const perEndpoint = endpoints.map(({ id, creationSecret }) => {
    const bound = bindings.filter((binding) => binding.endpointId === id);
    const candidates: TrustedSecret[] =
      bound.length > 0
        ? bound.map((binding) => ({ ...binding, origin: "override" }))
        : [{ endpointId: id, secret: creationSecret, origin: "creation" }];
    return { id, trusted: candidates.filter(allowed) };
  });
  return {
    trusted: perEndpoint.flatMap((endpoint) => endpoint.trusted),
    stray,
    withoutSecret: perEndpoint.filter((endpoint) => endpoint.trusted.length === 0).map((endpoint) => endpoint.id),
  };
}

/** Why a deploy stops when an endpoint is left with no trusted secret, and the command that fixes it. */
export function withoutSecretProblem(endpointId: string, stage: string): string {
  return (
    `Every signing secret ${webhookSecretName} would trust for ${endpointId} is revoked (a fingerprint in the stage's ` +
    `revokedSecretFingerprints). Set the endpoint's current secret from Stripe's Dashboard: ${setOverrideCommand(stage, endpointId)} ` +
    `(${runbook}).`
  );
}

/** The endpoint a stage without endpoints of its own uses: the one id its override is bound to. */
export function sharedEndpoint(override: ParsedOverride, stage: string): { endpointId?: string; problems: string[] } {
  const ids = [...new Set(override.bindings.map((binding) => binding.endpointId))];
  if (ids.length === 1) return { endpointId: ids[0], problems: [] };
  if (ids.length === 0 && override.problems.length === 0) {
    return {
      problems: [
        `The stage uses a shared endpoint but has no signing secret for it: ${setOverrideCommand(stage, "we_<shared endpoint id>")} ` +
          '(README, "Preview stages and the endpoint limit").',
      ],
    };
  }
  if (ids.length > 1) {
    return { problems: [`${webhookSecretName} is bound to ${ids.length} endpoints; a stage with a shared endpoint uses exactly one.`] };
  }
  return { problems: [] };
}

/** The sst.Secret's value for a list of bound secrets: the same form `sst secret set` takes. */
export function formatSecretList(secrets: readonly BoundSecret[]): string {
  return secrets.map(({ endpointId, secret }) => `${endpointId}:${secret}`).join(",");
}

/**
 * Splits a `StripeWebhookSecret` value into its entries: `we_...:whsec_...` as the deploy writes
 * it, or a plain `whsec_...` as the local receiver and `stripe listen` use. Blank entries are
 * dropped; whether each secret is well-formed is the caller's check. Run once per container, not
 * per delivery.
 */
export function splitSecretList(value: string): { endpointId?: string; secret: string }[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => {
      const colon = entry.indexOf(":");
      return colon < 0 ? { secret: entry } : { endpointId: entry.slice(0, colon), secret: entry.slice(colon + 1) };
    });
}

/**
 * A short, stable fingerprint of a secret (the first 8 hex digits of its SHA-256) for comparing
 * what a stage trusts with what Stripe's Dashboard reveals, without showing either value. 32 bits
 * of a hash of a high-entropy secret say nothing useful about it.
 */
export function secretFingerprint(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex").slice(0, 8);
}
