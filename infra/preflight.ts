import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describeStripeKeyPermissions } from "@stripe-webhooks/core/stripe-permissions";
import { stripeApiVersion } from "@stripe-webhooks/core/stripe-version";
import {
  overrideVariable,
  parseSecretOverride,
  secretFingerprint,
  setOverrideCommand,
  sharedEndpoint,
  type BoundSecret,
} from "@stripe-webhooks/core/signing-secrets";
import { stageSettings, stageSettingsProblems, type StageSettings } from "./stage";

/*
 * The checks a deploy must pass before it creates anything: sst.config.ts imports this module
 * before any module that declares a resource. A problem found later (a Stripe call refused for a
 * missing key, say) would stop the deploy halfway, with some resources changed and others not.
 */

const stripeKeyFormat = /^(sk|rk)_(test|live)_[A-Za-z0-9]+$/;

function stripeApiKeyProblems(settings: StageSettings): string[] {
  // Only the pulumi-stripe provider reads the key, and only a stage that manages endpoints uses it.
  if (settings.endpoint.kind !== "managed") return [];
  const key = process.env.STRIPE_API_KEY;
  const wanted = `${settings.mode}-mode key (rk_${settings.mode}_... or sk_${settings.mode}_...)`;
  if (!key) {
    return [`STRIPE_API_KEY is not set. The stage's webhook endpoint is created with it: export a ${wanted}.`];
  }
  const match = stripeKeyFormat.exec(key);
  if (!match) return [`STRIPE_API_KEY is not a Stripe secret or restricted API key: export a ${wanted}.`];
  if (match[2] !== settings.mode) {
    // A live stage with a test key (or the reverse) would create its endpoint in the wrong
    // Stripe mode, and the handler would then refuse every event.
    return [`The stage runs in Stripe ${settings.mode} mode, but STRIPE_API_KEY is a ${match[2]}-mode key: export a ${wanted}.`];
  }
  return [];
}

/**
 * The key the functions read Stripe's API with (`sst.Secret("StripeApiKey")`): the reconciler
 * lists events with it and handlers call Stripe with it. A restricted key of the stage's mode;
 * set once per stage. Without it every reconciler run would fail, so the deploy stops first.
 */
function functionApiKeyProblems(settings: StageSettings): string[] {
  const key = process.env.SST_SECRET_StripeApiKey;
  const setIt = `npx sst secret set StripeApiKey rk_${settings.mode}_... --stage ${$app.stage}`;
  const permissions = `a restricted key with ${describeStripeKeyPermissions()}`;
  if (!key) return [`The StripeApiKey secret is not set for this stage: ${setIt} (${permissions}; README, "The API key").`];
  const match = stripeKeyFormat.exec(key);
  if (!match) return [`The StripeApiKey secret is not a Stripe secret or restricted API key: ${setIt} (${permissions}).`];
  if (match[2] !== settings.mode) {
    return [`The StripeApiKey secret is a ${match[2]}-mode key, but the stage runs in Stripe ${settings.mode} mode: ${setIt}.`];
  }
  return [];
}

function regionProblems(settings: StageSettings): string[] {
  const aws = $app.providers?.aws;
  const region = typeof aws === "object" && aws !== null ? aws.region : undefined;
  if (region === settings.region) return [];
  return [`The AWS provider's region is ${String(region)}, not the stage's region ${settings.region}: sst.config.ts must take it from infra/stage.ts.`];
}

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const stripeIpsFile = "infra/stripe-webhook-ips.json";

/** Stripe's webhook source IPs as stored in infra/stripe-webhook-ips.json, with what is wrong with the file. */
function readStripeWebhookIps(): { addresses: string[]; problems: string[] } {
  let addresses: unknown;
  try {
    addresses = (JSON.parse(readFileSync(join($cli.paths.root, stripeIpsFile), "utf8")) as { addresses?: unknown }).addresses;
  } catch (error) {
    return { addresses: [], problems: [`${stripeIpsFile} cannot be read: ${error instanceof Error ? error.message : String(error)}.`] };
  }
  if (!Array.isArray(addresses) || addresses.length === 0 || !addresses.every((ip) => typeof ip === "string" && ipv4.test(ip))) {
    return { addresses: [], problems: [`${stripeIpsFile} must hold "addresses", a list of IPv4 addresses: refresh it with npm run stripe-ips.`] };
  }
  return { addresses: addresses as string[], problems: [] };
}

const stage = $app.stage;

/** The validated settings of the stage being deployed. */
export const settings: StageSettings = stageSettings(stage);

const override = parseSecretOverride(process.env[overrideVariable], stage);
const shared: { endpointId?: string; problems: string[] } =
  settings.endpoint.kind === "shared" ? sharedEndpoint(override, stage) : { problems: [] };

// A revoked secret set again (pasted from an old note, say) is refused before anything changes;
// one that would come back through an endpoint's creation secret is caught where that is known.
const revokedOverride = override.bindings
  .filter((binding) => settings.revokedSecretFingerprints?.includes(secretFingerprint(binding.secret)))
  .map(
    (binding) =>
      `StripeWebhookSecret holds a revoked secret for ${binding.endpointId} (fingerprint ${secretFingerprint(binding.secret)}); ` +
      `set only the endpoint's current secret: ${setOverrideCommand(stage, binding.endpointId)}.`,
  );

const stripeIps = settings.waf?.stripeIpAllowlist ? readStripeWebhookIps() : { addresses: [], problems: [] };

const problems = [
  ...stageSettingsProblems(stage, settings, stripeApiVersion).map((problem) => `infra/stage.ts: ${problem}`),
  ...regionProblems(settings),
  ...stripeApiKeyProblems(settings),
  ...functionApiKeyProblems(settings),
  ...override.problems,
  ...revokedOverride,
  ...shared.problems,
  ...stripeIps.problems,
];
if (problems.length > 0) {
  throw new Error(
    [`Stage "${stage}" was not deployed; nothing was created or changed:`, ...problems.map((problem) => `  - ${problem}`)].join("\n"),
  );
}

/** The override's secrets, each bound to its endpoint id (empty when no override is set). */
export const secretBindings: readonly BoundSecret[] = override.bindings;

/** For a stage with a shared endpoint: that endpoint's id. */
export const sharedEndpointId: string | undefined = shared.endpointId;

/** Stripe's webhook source IPs, for a stage whose WAF allows only them (else empty). */
export const stripeWebhookIps: readonly string[] = stripeIps.addresses;
