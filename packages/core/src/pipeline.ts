import { dispatch, isCatalogEvent, type HandlerRegistry, type WebhookLogger } from "./dispatch.ts";
import {
  ConfigurationError,
  HandlerFailedError,
  InvalidSignatureError,
  LedgerUnavailableError,
  LivemodeMismatchError,
  errorSummary,
  redactSecrets,
  WebhookError,
  type StripeMode,
} from "./errors.ts";
import { describeResult, toHttpResponse, type HttpResponse, type PipelineResult, type WebhookOutcome } from "./http.ts";
import type { Contended, Ledger, LedgerEntry, LedgerEvent } from "./ledger.ts";
import { defaultToleranceSeconds, futureSkewSeconds, maxBodyBytes } from "./limits.ts";
import { headerValue, readWebhookBody, type WebhookRequest } from "./request.ts";
import { parseSecrets, verifyStripeEvent } from "./verify.ts";

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

/** What the pipeline works with; the Lambda entry builds it, tests inject their own. */
export interface WebhookDependencies {
  /**
   * The stage's settings and ledger, resolved inside the request's error handling: a missing
   * link or a bad variable then answers 500 and is logged instead of crashing at import.
   */
  settings: () => { config: WebhookConfig; ledger: Ledger };
  registry: HandlerRegistry;
  logger: WebhookLogger;
  /** The current time in epoch milliseconds. */
  now?: () => number;
  maxBodyBytes?: number;
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
  const mode = raw.mode === undefined || raw.mode === "" ? "test" : raw.mode;
  if (mode !== "test" && mode !== "live") {
    throw new ConfigurationError(`STRIPE_MODE must be "test" or "live", not "${mode}".`);
  }
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

// What the summary log line reports, filled in as the request progresses.
interface Trace {
  eventId?: string;
  eventType?: string;
  attempts?: number;
}

/**
 * Handles one webhook delivery end to end and answers it: bounds, signature, livemode guard,
 * ledger claim, dispatch, ledger result. Never throws; every failure becomes a status through
 * {@link toHttpResponse}, and every request ends with one structured log line (event id, type,
 * outcome, attempts, duration) that never holds the secret, the signature or the payload.
 */
export async function handleWebhook(request: WebhookRequest, deps: WebhookDependencies): Promise<HttpResponse> {
  const now = deps.now ?? Date.now;
  const started = now();
  const trace: Trace = {};
  let result: PipelineResult;
  try {
    result = { ok: true, outcome: await processWebhook(request, deps, trace) };
  } catch (error) {
    result = { ok: false, error };
  }
  logResult(deps.logger, result, trace, { requestId: request.requestId, durationMs: now() - started });
  return toHttpResponse(result);
}

async function processWebhook(
  request: WebhookRequest,
  deps: WebhookDependencies,
  trace: Trace,
): Promise<WebhookOutcome> {
  const body = readWebhookBody(request, deps.maxBodyBytes ?? maxBodyBytes);
  const { config, ledger } = resolveSettings(deps);
  const event = verifyStripeEvent(body, headerValue(request.headers, "stripe-signature"), {
    secrets: config.secrets,
    toleranceSeconds: config.toleranceSeconds,
    futureSkewSeconds: config.futureSkewSeconds,
    now: deps.now,
  });
  trace.eventId = event.id;
  trace.eventType = event.type;
  if (event.livemode !== (config.mode === "live")) throw new LivemodeMismatchError(config.mode, event.livemode);

  const facts: LedgerEvent = {
    id: event.id,
    type: event.type,
    livemode: event.livemode,
    apiVersion: event.api_version,
    created: event.created,
    account: event.account,
  };
  if (!isCatalogEvent(event)) {
    const ignored = await ledger.recordIgnored(facts);
    trace.attempts = ignored.entry?.attempts;
    return ignored.kind === "recorded" ? { kind: "ignored", attempts: ignored.entry.attempts } : settled(ignored);
  }

  const claim = await ledger.claim(facts);
  trace.attempts = claim.entry?.attempts;
  if (claim.kind !== "claimed") return settled(claim);

  const attempts = claim.entry.attempts;
  let outcome: string;
  try {
    const logger = withAttributes(deps.logger, { eventId: event.id, eventType: event.type });
    ({ outcome } = await dispatch(deps.registry, event, { logger, attempt: attempts }));
  } catch (error) {
    await recordFailure(ledger, deps.logger, claim.entry, error);
    throw new HandlerFailedError(event.id, event.type, error);
  }
  const recorded = await ledger.complete(claim.entry, outcome);
  return recorded === "recorded" ? { kind: "processed", attempts } : { kind: "lease-lost", attempts };
}

function resolveSettings(deps: WebhookDependencies): ReturnType<WebhookDependencies["settings"]> {
  try {
    return deps.settings();
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError("The stage's settings could not be read: is the function linked to its resources?", {
      cause: error,
    });
  }
}

function settled(contended: Contended): WebhookOutcome {
  if (contended.kind === "duplicate") {
    const status = contended.entry.status === "ignored" ? "ignored" : "processed";
    return { kind: "duplicate", status, attempts: contended.entry.attempts };
  }
  return { kind: "in-progress", attempts: contended.entry?.attempts };
}

// Records the handler's failure so the next delivery may claim the event. If even that write
// fails, the lease runs out instead; the handler's error stays the one that is answered.
async function recordFailure(ledger: Ledger, logger: WebhookLogger, claim: LedgerEntry, error: unknown): Promise<void> {
  try {
    await ledger.fail(claim, errorSummary(error));
  } catch (ledgerError) {
    logger.error("Could not record the handler failure; the event is retried once its lease expires", {
      eventId: claim.id,
      error: errorSummary(ledgerError),
    });
  }
}

function withAttributes(logger: WebhookLogger, keys: Record<string, unknown>): WebhookLogger {
  return {
    info: (message, ...attributes) => logger.info(message, keys, ...attributes),
    warn: (message, ...attributes) => logger.warn(message, keys, ...attributes),
    error: (message, ...attributes) => logger.error(message, keys, ...attributes),
  };
}

function logResult(
  logger: WebhookLogger,
  result: PipelineResult,
  trace: Trace,
  request: { requestId: string | undefined; durationMs: number },
): void {
  const { statusCode, code } = describeResult(result);
  const attributes = {
    requestId: request.requestId,
    eventId: trace.eventId,
    eventType: trace.eventType,
    outcome: code,
    statusCode,
    attempts: trace.attempts,
    durationMs: request.durationMs,
    ...(result.ok ? {} : errorDetails(result.error)),
  };
  if (!result.ok && result.error instanceof LivemodeMismatchError) {
    logger.error("Misconfiguration: the event's mode does not match this stage", attributes);
    return;
  }
  if (statusCode >= 500) {
    logger.error("Stripe webhook failed", attributes);
    return;
  }
  if (statusCode >= 400 && statusCode !== 409) {
    logger.warn("Stripe webhook refused", attributes);
    return;
  }
  logger.info("Stripe webhook handled", attributes);
}

// Only our own summaries: a raw error could carry the signature header or the payload
// (stripe's verification errors hold both, and V8's JSON syntax errors quote the input), so no
// error object reaches the logger, and a malformed event's cause is not logged at all.
function errorDetails(error: unknown): Record<string, unknown> {
  const details: Record<string, unknown> = { error: errorSummary(error) };
  if (error instanceof InvalidSignatureError) details.reason = error.reason;
  const explained =
    error instanceof HandlerFailedError ||
    error instanceof LedgerUnavailableError ||
    error instanceof ConfigurationError;
  if (explained && error.cause !== undefined) details.cause = errorSummary(error.cause);
  // Stacks only where they point at code to fix: a handler, or a bug of ours.
  const fault = error instanceof HandlerFailedError ? error.cause : error instanceof WebhookError ? undefined : error;
  if (fault instanceof Error && fault.stack) details.stack = redactSecrets(fault.stack);
  return details;
}
