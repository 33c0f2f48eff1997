import Stripe from "stripe";
import {
  ConfigurationError,
  HandlerFailedError,
  InvalidSignatureError,
  LedgerRejectedError,
  LedgerUnavailableError,
  LivemodeMismatchError,
  MalformedEventError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  QueueUnavailableError,
  StripeCallError,
  UnreadableBodyError,
  UnsupportedMediaTypeError,
  WebhookError,
  errorSummary,
  redactSecrets,
  type MalformedEventReason,
  type SignatureFailureReason,
  type UnreadableBodyReason,
} from "./errors.ts";
import type { LogLevel, WebhookLogger } from "./logger.ts";
import type { OutcomeObservation } from "./metrics.ts";
import type { EventResult, ProcessOutcome } from "./process-event.ts";
import { classifyStripeError, type StripeErrorKind } from "./stripe-api.ts";

/*
 * The one outcome table: for every outcome and every error the pipeline answers with, its HTTP
 * status, its stable code (the body's `result`/`error` and the log's `outcome`, all snake_case),
 * the message shown to the sender, and the level and message of the summary log line. Stripe
 * retries every non-2xx answer, so the split that matters is: 2xx when the event needs nothing
 * more, 409 or 5xx when a retry can succeed, 4xx when the request itself is wrong. Stripe shows
 * response bodies in its dashboard, so messages help the operator without revealing internals.
 */

/** The summary log lines, one per kind of ending. */
export const summaryMessages = {
  handled: "Stripe webhook handled",
  refused: "Stripe webhook refused",
  failed: "Stripe webhook failed",
  misconfigured: "Misconfiguration: the event's mode does not match this stage",
  handlerMisconfigured: "Misconfiguration: a handler's Stripe API key is missing, refused or lacks a permission",
  ledgerRejected: "Bug: DynamoDB rejected a ledger request as invalid",
} as const;

/** A result as the sender and the logs see it. */
export interface OutcomeDescription {
  statusCode: number;
  code: string;
  /** Safe to show the sender; absent on success. */
  message?: string;
  headers?: Record<string, string>;
  level: LogLevel;
  summary: string;
}

type Row = Omit<OutcomeDescription, "code">;

const handled = { level: "info", summary: summaryMessages.handled } as const;
const refused = { level: "warn", summary: summaryMessages.refused } as const;
const failed = { level: "error", summary: summaryMessages.failed } as const;
// Not an error: Stripe's retry will find the event settled. Never 5xx, which would read as a fault.
const contended: Row = {
  statusCode: 409,
  message: "Another delivery of this event is being processed; retry later.",
  ...handled,
};

const outcomeRows: { readonly [K in ProcessOutcome["kind"]]: Row } = {
  processed: { statusCode: 200, ...handled },
  duplicate: { statusCode: 200, ...handled },
  // Accepted: Stripe's delivery succeeded; processing failures show in the ledger and the alarms.
  queued: { statusCode: 200, ...handled },
  ignored: { statusCode: 200, ...handled },
  in_progress: contended,
  lease_lost: contended,
};

const signatureMessages: Record<SignatureFailureReason, string> = {
  "missing-header": "The Stripe-Signature header is missing.",
  "no-matching-signature": "No signature matches this endpoint's signing secret.",
  "timestamp-too-old": "The signature timestamp is outside the tolerance.",
  "timestamp-in-future": "The signature timestamp is in the future.",
};

const unreadableMessages: Record<UnreadableBodyReason, string> = {
  empty: "The body is empty; Stripe sends every event as JSON.",
  "content-encoded": "The body is compressed (Content-Encoding); Stripe sends it uncompressed: turn compression off in front of this endpoint.",
  gzip: "The body is gzip data; Stripe sends it uncompressed: turn compression off in front of this endpoint.",
  "not-utf8": "The body is not valid UTF-8; Stripe sends UTF-8 JSON, so it was re-encoded on the way.",
};

const malformedMessages: Record<MalformedEventReason, string> = {
  "not-json": "The signed body is not JSON.",
  "not-an-object": "The signed body is not a Stripe event.",
  "invalid-id": "The event's id is not a Stripe event id (evt_...).",
  "invalid-type": "The event's type is not a Stripe event type.",
  "invalid-created": "The event's created is not a time in epoch seconds.",
  "invalid-livemode": "The event's livemode is not a boolean.",
  "invalid-api-version": "The event's api_version is missing or not a version.",
  "invalid-account": "The event's account is not a Stripe account id (acct_...).",
  "invalid-data-object": "The event has no data object.",
};

interface ErrorRow<E> extends Omit<Row, "message"> {
  code: string;
  message: (error: E) => string;
  /** A different level or summary for some errors of the row, keeping its status and code. */
  refine?: (error: E) => Pick<Row, "level" | "summary"> | undefined;
}

type ErrorClass<E> = abstract new (...args: never[]) => E;

function row<E extends Error>(type: ErrorClass<E>, spec: ErrorRow<E>): [ErrorClass<Error>, ErrorRow<Error>] {
  return [type, spec as ErrorRow<Error>];
}

// Keyed by the exact class: each error the caller must tell apart has its own row, and anything
// else (a bug, a misconfiguration) is the generic 500 below.
const errorRows = new Map<unknown, ErrorRow<Error>>([
  row(MethodNotAllowedError, {
    statusCode: 405,
    code: "method_not_allowed",
    message: () => "Use POST.",
    headers: { allow: "POST" },
    ...refused,
  }),
  row(UnsupportedMediaTypeError, {
    statusCode: 415,
    code: "unsupported_media_type",
    message: () => "Send application/json.",
    ...refused,
  }),
  row(PayloadTooLargeError, {
    statusCode: 413,
    code: "payload_too_large",
    message: (error) => `The body exceeds ${error.limit} bytes.`,
    ...refused,
  }),
  row(InvalidSignatureError, {
    statusCode: 400,
    code: "invalid_signature",
    message: (error) => signatureMessages[error.reason],
    ...refused,
  }),
  // Before the signature: a body no signature can match, for a cause a wrong secret is not.
  row(UnreadableBodyError, {
    statusCode: 400,
    code: "unreadable_body",
    message: (error) => unreadableMessages[error.reason],
    ...refused,
  }),
  // The same answer whatever the source: the reconciler skips such an event, and a retry of
  // the same bytes can never succeed.
  row(MalformedEventError, {
    statusCode: 400,
    code: "malformed_event",
    message: (error) => malformedMessages[error.reason],
    ...refused,
  }),
  // 422, not 2xx: acknowledging would drop the event for good, while refusing keeps Stripe
  // retrying (and flagging the endpoint) until the stage's mode or secret is fixed. Logged as an
  // error: the signature is valid, so this is a misconfiguration rather than an attack.
  row(LivemodeMismatchError, {
    statusCode: 422,
    code: "livemode_mismatch",
    message: (error) => `This endpoint accepts ${error.stageMode}-mode events only.`,
    level: "error",
    summary: summaryMessages.misconfigured,
  }),
  // Still 500 when the key is at fault: Stripe keeps retrying, so the events heal once it is fixed.
  row(HandlerFailedError, {
    statusCode: 500,
    code: "handler_failed",
    message: () => "The event could not be processed; a retry of this delivery can succeed.",
    ...failed,
    refine: (error) =>
      handlerStripeError(error) === "misconfiguration" || error.cause instanceof ConfigurationError
        ? { level: "error", summary: summaryMessages.handlerMisconfigured }
        : undefined,
  }),
  row(QueueUnavailableError, {
    statusCode: 500,
    code: "queue_unavailable",
    message: () => "Temporarily unavailable; retry later.",
    ...failed,
  }),
  row(LedgerUnavailableError, {
    statusCode: 500,
    code: "ledger_unavailable",
    message: () => "Temporarily unavailable; retry later.",
    ...failed,
  }),
  // Still 5xx (the event was not recorded, and Stripe keeps it until a fix is deployed), but not
  // "retry later": the same request fails until the code changes, and the alarm must say bug,
  // not throttling.
  row(LedgerRejectedError, {
    statusCode: 500,
    code: "ledger_rejected",
    message: () => "The event could not be recorded: the ledger rejected the request, a fault in this endpoint's code.",
    level: "error",
    summary: summaryMessages.ledgerRejected,
  }),
]);

const internalError: OutcomeDescription = { statusCode: 500, code: "internal_error", message: "Internal error.", ...failed };

/**
 * Describes a result by the outcome table: its HTTP status, stable code, public message, headers,
 * and the level and message of its summary log line. Errors without a row of their own (a
 * misconfiguration, a bug) describe as a bare 500 `internal_error` whose message reveals nothing.
 */
export function describeOutcome(result: EventResult): OutcomeDescription {
  if (result.ok) {
    const { kind } = result.outcome;
    return { code: kind, ...outcomeRows[kind] };
  }
  const { error } = result;
  if (!(error instanceof Error)) return internalError;
  const found = errorRows.get(error.constructor);
  if (!found) return internalError;
  const { message, refine, ...rest } = found;
  return { ...rest, ...refine?.(error), message: message(error) };
}

/**
 * Writes a result's one summary line and returns its description at the level the outcome table gives it. `attributes` are
 * the caller's (request id, event id, source, duration); the outcome's code and status and, on
 * failure, only our own summaries of the error are added: never a raw error object, which could
 * carry the signature header or the payload.
 */
export function logOutcome(
  logger: WebhookLogger,
  result: EventResult,
  attributes: Record<string, unknown>,
): OutcomeDescription {
  const description = describeOutcome(result);
  const { level, summary, statusCode, code } = description;
  logger[level](summary, {
    ...attributes,
    outcome: code,
    statusCode,
    ...(result.ok ? {} : errorDetails(result.error)),
  });
  return description;
}

/** Receives every run's outcome, e.g. to emit metrics; core itself emits none. */
export type OutcomeObserver = (observation: OutcomeObservation) => void;

// stripe's verification errors hold the header and the payload, and V8's JSON syntax errors quote
// the input, so a malformed event's cause is not logged at all; causes are logged only where they
// are ours to explain. Stacks only where they point at code to fix: a handler, or a bug of ours.
function errorDetails(error: unknown): Record<string, unknown> {
  const details: Record<string, unknown> = { error: errorSummary(error) };
  if (error instanceof InvalidSignatureError || error instanceof UnreadableBodyError) details.reason = error.reason;
  if (error instanceof UnreadableBodyError && error.encoding !== undefined) details.contentEncoding = error.encoding;
  if (error instanceof MalformedEventError) {
    details.reason = error.reason;
    // Already escaped and cut short by the envelope check; never the event's object.
    if (error.value !== undefined) details.value = redactSecrets(error.value);
  }
  if (error instanceof LedgerRejectedError) {
    details.operation = error.operation;
    details.dynamoOperation = error.dynamoOperation;
  }
  const explained =
    error instanceof HandlerFailedError ||
    error instanceof LedgerUnavailableError ||
    error instanceof LedgerRejectedError ||
    error instanceof ConfigurationError;
  if (explained && error.cause !== undefined) details.cause = errorSummary(error.cause);
  const stripeError = error instanceof HandlerFailedError ? handlerStripeError(error) : undefined;
  if (stripeError !== undefined) details.stripeError = stripeError;
  const fault = error instanceof HandlerFailedError ? error.cause : error instanceof WebhookError ? undefined : error;
  if (fault instanceof Error && fault.stack) details.stack = redactSecrets(fault.stack);
  return details;
}

/**
 * What the Stripe error that made a handler fail means (`retry-later`, `misconfiguration`,
 * `request-refused`, `unknown`), whether the handler threw the SDK's error or `callStripe`'s
 * translation of it; undefined when the handler failed for another reason.
 */
function handlerStripeError(error: HandlerFailedError): StripeErrorKind | undefined {
  const cause = error.cause instanceof StripeCallError ? error.cause.cause : error.cause;
  if (!(cause instanceof Stripe.errors.StripeError)) return undefined;
  return classifyStripeError(cause).kind;
}
