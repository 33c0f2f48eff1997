import type Stripe from "stripe";
import type { HandlerRegistry } from "./dispatch.ts";
import { enqueueEvent, type QueueSender } from "./enqueue.ts";
import { ConfigurationError, type StripeMode } from "./errors.ts";
import { toHttpResponse, type HttpResponse } from "./http.ts";
import type { Ledger } from "./ledger.ts";
import { defaultToleranceSeconds, futureSkewSeconds, maxBodyBytes } from "./limits.ts";
import type { WebhookLogger } from "./logger.ts";
import type { OutcomeObserver } from "./outcomes.ts";
import { processEvent, type EventTrace } from "./process-event.ts";
import { headerValue, readWebhookBody, type WebhookRequest } from "./request.ts";
import { runObserved } from "./run.ts";
import { parseSecrets, verifyStripeEvent } from "./verify.ts";

/*
 * "Verify a delivery": the webhook's own steps (transport bounds, exact bytes, signature), after
 * which the event is an authentic one like any other and goes through `processEvent`.
 */

/** A stage's webhook settings, validated. */
export interface WebhookConfig {
  secrets: readonly string[];
  mode: StripeMode;
  toleranceSeconds: number;
  futureSkewSeconds: number;
}

/** The settings as the environment holds them: strings, possibly missing. */
export interface RawWebhookConfig {
  /** One `whsec_...` secret, or several separated by commas during a rotation. */
  secret: string | undefined;
  /** `test` or `live`; `test` when unset. */
  mode: string | undefined;
  /** Whole seconds; stripe's 300 when unset. */
  toleranceSeconds: string | undefined;
}

/** What a delivery is handled with; the composition root (`createWebhookApp`) builds it, tests inject their own. */
export interface WebhookDependencies {
  /**
   * The stage's settings and ledger, resolved inside the request's error handling: a missing
   * link or a bad variable then answers 500 and is logged instead of crashing at import.
   */
  settings: () => {
    config: WebhookConfig;
    ledger: Ledger;
    tableName?: string;
    stripeConfigured?: boolean;
    /** A queued stage's queue: a verified event is then sent there instead of processed inline. */
    queue?: QueueSender;
  };
  registry: HandlerRegistry;
  logger: WebhookLogger;
  /** Told every delivery's outcome (metrics). */
  observe?: OutcomeObserver;
  /** The Stripe client handlers get, created on their first use. */
  stripe?: () => Stripe;
  /** The current time in epoch milliseconds. */
  now?: () => number;
  maxBodyBytes?: number;
}

/**
 * Validates the stage's Stripe mode as the environment holds it (`STRIPE_MODE`): `test` or
 * `live`, `test` when unset. Throws {@link ConfigurationError} naming the variable.
 */
export function loadStripeMode(raw: string | undefined): StripeMode {
  const mode = raw === undefined || raw === "" ? "test" : raw;
  if (mode !== "test" && mode !== "live") {
    throw new ConfigurationError(`STRIPE_MODE must be "test" or "live", not "${mode}".`);
  }
  return mode;
}

/**
 * Validates the stage's raw settings: at least one `whsec_` secret, a mode of `test` or `live`
 * (default `test`), a positive whole tolerance in seconds (default 300). Throws
 * {@link ConfigurationError} with a message naming the setting to fix.
 */
export function loadWebhookConfig(raw: RawWebhookConfig): WebhookConfig {
  const secrets = parseSecrets(raw.secret ?? "");
  if (secrets.length === 0) {
    throw new ConfigurationError("No Stripe webhook signing secret is configured: set StripeWebhookSecret.");
  }
  if (!secrets.every((secret) => secret.startsWith("whsec_"))) {
    // The message must not echo the value: it may be an API key pasted into the wrong place.
    throw new ConfigurationError("StripeWebhookSecret must hold whsec_ signing secrets, separated by commas.");
  }
  const mode = loadStripeMode(raw.mode);
  const toleranceText = raw.toleranceSeconds ?? "";
  const toleranceSeconds = toleranceText === "" ? defaultToleranceSeconds : Number(toleranceText);
  // stripe treats 0 as "no age check", which would make every signature replayable forever.
  if (!Number.isInteger(toleranceSeconds) || toleranceSeconds <= 0) {
    throw new ConfigurationError(
      `STRIPE_WEBHOOK_TOLERANCE_SECONDS must be a positive whole number, not "${raw.toleranceSeconds}".`,
    );
  }
  return { secrets, mode, toleranceSeconds, futureSkewSeconds };
}

/**
 * Handles one webhook delivery end to end and answers it: transport bounds, the exact body
 * bytes, the signature against the stage's secrets, then {@link processEvent} with source
 * `webhook`. Never throws; every failure becomes a status through the outcome table, and every
 * request ends with one structured log line (request id, event id, type, source, outcome,
 * attempts, duration) that never holds the secret, the signature or the payload.
 */
export async function handleWebhook(request: WebhookRequest, deps: WebhookDependencies): Promise<HttpResponse> {
  const { description } = await runObserved(deps, "webhook", { requestId: request.requestId }, (trace) =>
    verifyAndProcess(request, deps, trace),
  );
  return toHttpResponse(description);
}

async function verifyAndProcess(request: WebhookRequest, deps: WebhookDependencies, trace: EventTrace) {
  const body = readWebhookBody(request, deps.maxBodyBytes ?? maxBodyBytes);
  const resolved = resolveSettings(deps.settings);
  const { config, ledger } = resolved;
  const event = verifyStripeEvent(body, headerValue(request.headers, "stripe-signature"), {
    secrets: config.secrets,
    toleranceSeconds: config.toleranceSeconds,
    futureSkewSeconds: config.futureSkewSeconds,
    now: deps.now,
    contentEncoding: headerValue(request.headers, "content-encoding"),
  });
  if (resolved.queue) return enqueueEvent(event, { mode: config.mode, ledger, queue: resolved.queue }, trace);
  const { tableName } = resolved;
  const processDeps = {
    mode: config.mode,
    ledger,
    tableName,
    registry: deps.registry,
    logger: deps.logger,
    stripe: deps.stripe,
    stripeConfigured: resolved.stripeConfigured ?? deps.stripe !== undefined,
  };
  return processEvent(event, "webhook", processDeps, trace);
}

/**
 * Calls a settings resolver, turning whatever it throws into a {@link ConfigurationError} that
 * says what to check (a missing SST link throws a plain error from `Resource`).
 */
export function resolveSettings<T>(settings: () => T): T {
  try {
    return settings();
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError("The stage's settings could not be read: is the function linked to its resources?", {
      cause: error,
    });
  }
}
