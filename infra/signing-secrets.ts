/**
 * Which signing secrets the function trusts. By default each endpoint's own secret, the one
 * Stripe returns when it creates the endpoint. `sst secret set StripeWebhookSecret ...` (a
 * rotation) overrides that, and the override binds every secret to the endpoint it belongs to:
 *
 *   we_<endpoint id>:whsec_<secret>[,we_<endpoint id>:whsec_<secret>...]
 *
 * The binding is what keeps a replaced endpoint from leaving the function with stale secrets
 * only: an override for an endpoint id the stage no longer has is ignored (with a warning) and
 * the new endpoint's own secret is trusted instead. And an endpoint that has an override trusts
 * only the override, never its creation secret again: after a roll because a secret leaked,
 * that secret must stay refused.
 *
 * No side effects and no globals, so the rules are unit-tested (test/infra/signing-secrets.test.ts).
 */

/** The environment variable through which the SST CLI passes the stage's override to the program. */
export const overrideVariable = "SST_SECRET_StripeWebhookSecret";

export interface BoundSecret {
  endpointId: string;
  secret: string;
}

export interface ParsedOverride {
  bindings: BoundSecret[];
  problems: string[];
}

const endpointIdFormat = /^we_[A-Za-z0-9_]+$/;
const secretFormat = /^whsec_[A-Za-z0-9+/=_-]{8,}$/;
const runbook = 'README, "Rotate the signing secret"';

/**
 * Parses the override (`undefined` when none is set). Problems never quote the value: it holds
 * secrets, or an API key pasted into the wrong place.
 */
export function parseSecretOverride(raw: string | undefined): ParsedOverride {
  if (raw === undefined) return { bindings: [], problems: [] };
  const entries = raw.split(",").map((entry) => entry.trim());
  const bindings: BoundSecret[] = [];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    const which = entries.length > 1 ? `Entry ${index + 1} of StripeWebhookSecret` : "StripeWebhookSecret";
    const colon = entry.indexOf(":");
    const endpointId = colon < 0 ? "" : entry.slice(0, colon);
    const secret = colon < 0 ? entry : entry.slice(colon + 1);
    if (colon < 0 && secretFormat.test(entry)) {
      problems.push(
        `${which} is a signing secret without the endpoint it belongs to. Set it again as ` +
          `"we_<endpoint id>:whsec_..." (the id is the stage's stripeEndpointId output), so that it is ` +
          `never trusted for another endpoint (${runbook}).`,
      );
    } else if (!endpointIdFormat.test(endpointId) || !secretFormat.test(secret)) {
      problems.push(`${which} is not "we_<endpoint id>:whsec_<signing secret>" (${runbook}).`);
    } else {
      bindings.push({ endpointId, secret });
    }
  });
  return { bindings, problems };
}

/** The secrets the function trusts for one endpoint: its bound override, else its creation secret. */
export function trustedSecrets(endpointId: string, creationSecret: string, bindings: readonly BoundSecret[]): string[] {
  const bound = bindings.filter((binding) => binding.endpointId === endpointId).map((binding) => binding.secret);
  return bound.length > 0 ? bound : [creationSecret];
}

/** Endpoint ids the override holds secrets for that are none of the stage's endpoints. */
export function strayEndpointIds(bindings: readonly BoundSecret[], endpointIds: readonly string[]): string[] {
  return [...new Set(bindings.map((binding) => binding.endpointId))].filter((id) => !endpointIds.includes(id));
}

/** The endpoint a stage without endpoints of its own uses: the one id its override is bound to. */
export function sharedEndpoint(override: ParsedOverride): { endpointId?: string; problems: string[] } {
  const ids = [...new Set(override.bindings.map((binding) => binding.endpointId))];
  if (ids.length === 1) return { endpointId: ids[0], problems: [] };
  if (ids.length === 0 && override.problems.length === 0) {
    return {
      problems: [
        "The stage uses a shared endpoint but has no signing secret for it: " +
          'npx sst secret set StripeWebhookSecret "we_<shared endpoint id>:whsec_..." (README, "Preview stages and the endpoint limit").',
      ],
    };
  }
  if (ids.length > 1) return { problems: [`StripeWebhookSecret is bound to ${ids.length} endpoints; a stage with a shared endpoint uses exactly one.`] };
  return { problems: [] };
}
