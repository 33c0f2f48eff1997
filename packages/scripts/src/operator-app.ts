import type Stripe from "stripe";
import { Resource } from "sst";
import { createWebhookApp, type WebhookApp } from "@stripe-webhooks/core/app";
import { ConfigurationError, type StripeMode } from "@stripe-webhooks/core/errors";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import type { WebhookLogger } from "@stripe-webhooks/core/logger";
import { createStripeClient } from "@stripe-webhooks/core/stripe-api";
import { createLogger } from "@stripe-webhooks/functions/logger";
import { UsageError } from "./cli.ts";
import { findLedger, type LedgerTarget } from "./ledger-target.ts";
import { isLoopbackEndpoint } from "./local-dynamo.ts";

/*
 * What `npm run reconcile` and `npm run replay` work on: the ledger `npm run events` reads (same
 * discovery: a stage under `sst shell`, DYNAMODB_ENDPOINT, the running receiver, its data
 * directory), a Stripe API client, and the app over them, built as the receiver builds its own
 * (the example handlers, the functions' logger). Locally only test-mode keys are taken: a live
 * key would run the handlers on real customers' events against a developer's ledger. Under
 * `sst shell` the key (the stage's `StripeApiKey` link, else STRIPE_API_KEY) must be of the
 * stage's own mode, as its settings decide it (infra/stage.ts), read from the stage's
 * `StripeEndpoint` link.
 */

/** The app and its dependencies for one operator command. */
export interface OperatorApp {
  app: WebhookApp;
  stripe: Stripe;
  ledger: LedgerTarget;
  logger: WebhookLogger;
  mode: StripeMode;
  /** The stage's webhook endpoint, when there is one (`--endpoint`, the link, or the variable). */
  endpointId: string | undefined;
  /** Where the key and the API are, for a header line; never the key itself. */
  stripeDescription: string;
  close(): Promise<void>;
}

/** A linked value, or undefined when it is not linked (not under `sst shell`, or not in this stage). */
function linked(read: () => string): string | undefined {
  try {
    const value = read();
    return value === "" ? undefined : value;
  } catch {
    // Resource throws for a link it does not have.
    return undefined;
  }
}

/** The stage's name when SST links are active with a ledger, as `findLedger` decides it. */
function linkedStage(): string | undefined {
  return linked(() => Resource.Ledger.name) === undefined ? undefined : linked(() => Resource.App.stage);
}

function keyMode(key: string): StripeMode {
  return /^[a-z]+_live_/.test(key) ? "live" : "test";
}

interface StripeKey {
  key: string;
  mode: StripeMode;
  source: string;
}

/**
 * The stage's Stripe mode as its deploy linked it. A stage deployed before the link carried the
 * mode has none: guessing would let a live key run against a test stage's ledger, or the reverse.
 */
function linkedMode(stage: string): StripeMode {
  const mode = linked(() => Resource.StripeEndpoint.mode);
  if (mode === "test" || mode === "live") return mode;
  throw new ConfigurationError(
    `stage ${stage}'s StripeEndpoint link carries no Stripe mode: deploy the stage again (npx sst deploy --stage ${stage}).`,
  );
}

function resolveKey(stage: string | undefined): StripeKey {
  // A stage's mode comes from its settings (production is the live stage); locally, always test.
  const mode: StripeMode = stage === undefined ? "test" : linkedMode(stage);
  const stageKey = stage === undefined ? undefined : linked(() => Resource.StripeApiKey.value);
  const key = stageKey ?? (process.env.STRIPE_API_KEY || undefined);
  const source = stageKey === undefined ? "STRIPE_API_KEY" : `stage ${stage}'s StripeApiKey`;
  if (key === undefined) {
    throw new ConfigurationError(
      `STRIPE_API_KEY is not set: give a ${mode}-mode key (sk_${mode}_... or rk_${mode}_...) with read access to Events` +
        " (and Webhook Endpoints with --endpoint).",
    );
  }
  if (keyMode(key) === mode) return { key, mode, source };
  if (stage === undefined) {
    throw new ConfigurationError(
      "STRIPE_API_KEY is a live-mode key: locally these tools take test-mode keys (sk_test_... or rk_test_...). " +
        "A live key is used only for a live stage, under its links: npx sst shell --stage production -- npm run reconcile",
    );
  }
  throw new ConfigurationError(
    `${source} is a ${keyMode(key)}-mode key, but stage ${stage} is a ${mode}-mode stage: use a ${mode}-mode key.`,
  );
}

function resolveEndpoint(flag: string | undefined, stage: string | undefined): string | undefined {
  const endpoint =
    flag ??
    (stage === undefined ? undefined : linked(() => Resource.StripeEndpoint.id)) ??
    (process.env.STRIPE_WEBHOOK_ENDPOINT_ID || undefined);
  if (endpoint !== undefined && !/^we_[A-Za-z0-9]+$/.test(endpoint)) {
    throw new UsageError(`the webhook endpoint must be a Stripe endpoint id (we_...), got "${endpoint}"`);
  }
  return endpoint;
}

/**
 * Resolves the key, endpoint and API base (refusing a live key outside a live stage's links),
 * then finds the ledger and builds the app over it. Throws `ConfigurationError` for a missing,
 * malformed or live key or a bad STRIPE_API_BASE, `UsageError` for a malformed endpoint id.
 */
export async function openOperatorApp(options: { dataDir: string; endpoint?: string | undefined }): Promise<OperatorApp> {
  const stage = linkedStage();
  const { key, mode, source } = resolveKey(stage);
  const endpointId = resolveEndpoint(options.endpoint, stage);
  const apiBase = process.env.STRIPE_API_BASE || undefined;
  const stripe = createStripeClient({ apiKey: key, expectedMode: mode, ...(apiBase === undefined ? {} : { apiBase }) });

  // Before the logger exists: its lines (failures, a disabled endpoint) go to stderr at WARN and
  // above, so stdout holds only the tool's own output, which --json keeps parseable.
  process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
  const logger = createLogger();
  const ledger = await findLedger(options.dataDir);
  const external = process.env.DYNAMODB_ENDPOINT;
  // The receiver's embedded dynalite has no transactions, so locally a handler's effects are
  // written one by one, as the receiver writes them; a stage's table (or a remote endpoint) commits
  // them with the completion in one transaction.
  const local = stage === undefined && (external === undefined || external === "" || isLoopbackEndpoint(external));
  const app = createWebhookApp({
    dynamo: ledger.client,
    // The handlers call Stripe with the same key (the entitlements fetch subscriptions).
    settings: () => ({ tableName: ledger.tableName, mode, stripeApiKey: key, stripeApiBase: apiBase }),
    registry: entitlementHandlers,
    logger,
    ledger: { transactions: !local },
  });
  return {
    app,
    stripe,
    ledger,
    logger,
    mode,
    endpointId,
    stripeDescription: `${source} (${mode} mode), ${apiBase ?? "https://api.stripe.com"}`,
    close: () => ledger.close(),
  };
}
