/*
 * The failures a caller must tell apart, one class each. What each one answers (status, code,
 * message, log level) is decided in one place, the outcome table in outcomes.ts; the base class
 * marks an error as one of ours, whose stack points at no bug. Each subclass sets `name` (it
 * survives minification and shows in logs) and keeps `cause` when there is one.
 */

/** How a signature check failed; logged so operators can tell a wrong secret from a replay. */
export type SignatureFailureReason =
  | "missing-header"
  | "no-matching-signature"
  | "timestamp-too-old"
  | "timestamp-in-future";

/** The stage's Stripe mode: `test` stages accept only test events, `live` only live ones. */
export type StripeMode = "test" | "live";

/** Base class of the pipeline's own errors: expected failures, not bugs. */
export class WebhookError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebhookError";
  }
}

/** The request used a method other than POST. */
export class MethodNotAllowedError extends WebhookError {
  constructor(readonly method: string) {
    super(`Method ${method} is not allowed: Stripe delivers webhooks with POST.`);
    this.name = "MethodNotAllowedError";
  }
}

/** The request's content type is not JSON. */
export class UnsupportedMediaTypeError extends WebhookError {
  constructor(readonly contentType: string | undefined) {
    super(`Content type ${contentType ?? "(none)"} is not accepted: Stripe sends application/json.`);
    this.name = "UnsupportedMediaTypeError";
  }
}

/** The body is larger than any event Stripe sends (see `maxBodyBytes`). */
export class PayloadTooLargeError extends WebhookError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`Body of ${bytes} bytes exceeds the ${limit}-byte limit.`);
    this.name = "PayloadTooLargeError";
  }
}

/**
 * The `Stripe-Signature` header is missing, matches none of the secrets, or carries a timestamp
 * outside the accepted window. Deliberately keeps no `cause`: stripe's own error holds the
 * header and the payload, which must never reach a log.
 */
export class InvalidSignatureError extends WebhookError {
  constructor(
    readonly reason: SignatureFailureReason,
    message: string,
  ) {
    super(message);
    this.name = "InvalidSignatureError";
  }
}

/**
 * Why a body could not be read as text before its signature was checked. Each has a cause
 * other than a wrong secret (a proxy compressing or re-encoding, a sender posting nothing),
 * so each is answered as itself rather than as a signature mismatch.
 */
export type UnreadableBodyReason = "empty" | "content-encoded" | "gzip" | "not-utf8";

/**
 * The body is empty, compressed (a `Content-Encoding` other than `identity`, or gzip's magic
 * bytes) or not UTF-8. Stripe sends every event as uncompressed UTF-8 JSON, so such a body was
 * changed on the way or does not come from Stripe; no signature over it can match.
 */
export class UnreadableBodyError extends WebhookError {
  constructor(
    readonly reason: UnreadableBodyReason,
    message: string,
    /** The `Content-Encoding` the request declared, escaped and cut short, for `content-encoded`. */
    readonly encoding?: string,
  ) {
    super(message);
    this.name = "UnreadableBodyError";
  }
}

/** Which part of a verified body is not what a Stripe event holds. */
export type MalformedEventReason =
  | "not-json"
  | "not-an-object"
  | "invalid-id"
  | "invalid-type"
  | "invalid-created"
  | "invalid-livemode"
  | "invalid-api-version"
  | "invalid-account"
  | "invalid-data-object";

/**
 * The body is authentic (its signature is valid, or Stripe's API returned it) but is not a
 * Stripe event: not JSON, or an envelope field missing or out of shape. `value` describes the
 * offending value for the logs, escaped and cut short; it never holds the event's object.
 */
export class MalformedEventError extends WebhookError {
  readonly reason: MalformedEventReason;
  readonly value: string | undefined;

  constructor(reason: MalformedEventReason, message: string, options?: ErrorOptions & { value?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MalformedEventError";
    this.reason = reason;
    this.value = options?.value;
  }
}

/**
 * The event's `livemode` differs from the stage's mode: the endpoint's secret belongs to the
 * other mode, or the stage was deployed with the wrong `STRIPE_MODE`. A misconfiguration, not
 * an attack (the signature is valid).
 */
export class LivemodeMismatchError extends WebhookError {
  constructor(
    readonly stageMode: StripeMode,
    readonly eventLivemode: boolean,
  ) {
    super(
      `Received a ${eventLivemode ? "live" : "test"}-mode event on a ${stageMode}-mode stage: ` +
        "check STRIPE_MODE and which Stripe endpoint's signing secret this stage holds.",
    );
    this.name = "LivemodeMismatchError";
  }
}

/** The stage's settings (secret, mode, tolerance, table) are missing or invalid. */
export class ConfigurationError extends WebhookError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigurationError";
  }
}

/** An event handler threw; the ledger records the event `failed` so Stripe's retry runs it again. */
export class HandlerFailedError extends WebhookError {
  constructor(
    readonly eventId: string,
    readonly eventType: string,
    cause: unknown,
  ) {
    super(`Handler for ${eventType} failed on ${eventId}.`, { cause });
    this.name = "HandlerFailedError";
  }
}

/** DynamoDB could not be reached or refused the request (throttling, missing table, network). */
export class LedgerUnavailableError extends WebhookError {
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`Ledger ${operation} failed: DynamoDB is unavailable or refused the request.`, { cause });
    this.name = "LedgerUnavailableError";
  }
}

/**
 * The queue did not take an event (SQS unavailable, throttled, or refused the send). Nothing was
 * recorded, so the sender's retry (Stripe's, or the reconciler's next run) sends it again.
 */
export class QueueUnavailableError extends WebhookError {
  constructor(cause: unknown) {
    super("The event could not be queued: the queue is unavailable or refused the message.", { cause });
    this.name = "QueueUnavailableError";
  }
}

/**
 * DynamoDB refused a ledger request as invalid (`ValidationException`): an item or key over its
 * size limit, a value of the wrong type, a malformed expression. A bug in the request the ledger
 * built, not an outage: the same request fails the same way however often it is retried.
 */
export class LedgerRejectedError extends WebhookError {
  constructor(
    /** The ledger's step, e.g. `claim`. */
    readonly operation: string,
    /** The DynamoDB operation DynamoDB refused, e.g. `UpdateItem`. */
    readonly dynamoOperation: string,
    cause: unknown,
  ) {
    super(`Ledger ${operation} failed: DynamoDB rejected the ${dynamoOperation} request as invalid (a bug, not an outage).`, {
      cause,
    });
    this.name = "LedgerRejectedError";
  }
}

/**
 * Masks anything shaped like a Stripe secret or API key (`whsec_...`, `sk_...`, `rk_...`), so
 * text that may quote one (an error message, a stack) can be logged or stored.
 */
export function redactSecrets(text: string): string {
  return text.replace(/\b(whsec|sk|rk)_[\w-]+/g, "$1_[redacted]");
}

/**
 * A one-line summary of an error for the ledger's `lastError` and the logs: name and message,
 * without the stack, with secrets masked, cut to `maxLength` characters.
 */
export function errorSummary(error: unknown, maxLength = 500): string {
  const described = error instanceof Error ? `${error.name}: ${error.message}` : `Non-error thrown: ${String(error)}`;
  const text = redactSecrets(described);
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

/**
 * What a failed Stripe API call is known by, every field safe to log: built by `callStripe`
 * (stripe-api.ts) from the SDK's error, with secrets masked and no request or response body.
 */
export interface StripeCallFacts {
  /** What was being done, e.g. `events.list`. */
  operation: string;
  /** One line: the SDK's error type, code, HTTP status, request id and message. */
  description: string;
  statusCode?: number;
  /** Stripe's error code (`resource_missing`, `lock_timeout`, ...), when it sent one. */
  code?: string;
  /** Stripe's `Request-Id`, for looking the request up in the Dashboard's logs. */
  requestId?: string;
}

/**
 * Base class of the failures of a Stripe API call, so a caller can catch "Stripe said no"
 * with one `instanceof` and tell the kinds apart by subclass.
 */
export class StripeCallError extends WebhookError {
  readonly operation: string;
  readonly description: string;
  readonly statusCode: number | undefined;
  readonly code: string | undefined;
  readonly requestId: string | undefined;

  constructor(message: string, facts: StripeCallFacts, cause: unknown) {
    super(message, { cause });
    this.name = "StripeCallError";
    this.operation = facts.operation;
    this.description = facts.description;
    this.statusCode = facts.statusCode;
    this.code = facts.code;
    this.requestId = facts.requestId;
  }
}

/**
 * Stripe could not answer now: rate limited or a lock timeout (429), a conflict (409), a 5xx,
 * a timeout or a broken connection, after the SDK's own retries. Trying again later is right.
 */
export class StripeUnavailableError extends StripeCallError {
  constructor(facts: StripeCallFacts, cause: unknown) {
    super(`Stripe ${facts.operation} failed, retry later: ${facts.description}`, facts, cause);
    this.name = "StripeUnavailableError";
  }
}

/**
 * Stripe rejected the key (401) or the key lacks a permission (403, typically a restricted key
 * missing one). Retrying cannot help; an operator must change the key or its permissions.
 */
export class StripeMisconfiguredError extends StripeCallError {
  constructor(facts: StripeCallFacts, cause: unknown) {
    super(
      `Stripe ${facts.operation} failed: the API key is invalid or lacks a permission: ${facts.description}`,
      facts,
      cause,
    );
    this.name = "StripeMisconfiguredError";
  }
}

/**
 * Stripe refused this particular request (400 invalid request, 402 card error, 404 missing
 * object, a reused idempotency key): the same request will fail again, and whether that
 * matters is the caller's decision (`code` tells e.g. `resource_missing` apart).
 */
export class StripeRequestRefusedError extends StripeCallError {
  constructor(facts: StripeCallFacts, cause: unknown) {
    super(`Stripe ${facts.operation} was refused: ${facts.description}`, facts, cause);
    this.name = "StripeRequestRefusedError";
  }
}

/**
 * A staged effect's own condition did not hold when the pipeline committed the event, so the
 * whole commit, completion included, was refused: nothing was written. The run counts as a
 * handler failure (the event is recorded failed and retried).
 */
export class EffectConditionFailedError extends WebhookError {
  constructor(
    /** Which of the handler's staged effects (0-based, in staging order) failed its condition. */
    readonly effectIndex: number,
  ) {
    super(`The condition of staged effect ${effectIndex} did not hold; nothing was written.`);
    this.name = "EffectConditionFailedError";
  }
}
