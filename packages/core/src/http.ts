import {
  HandlerFailedError,
  InvalidSignatureError,
  LedgerUnavailableError,
  LivemodeMismatchError,
  MalformedEventError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  type SignatureFailureReason,
} from "./errors.ts";

/*
 * The one place that turns the pipeline's outcomes and errors into HTTP answers. Stripe retries
 * every non-2xx answer (for up to 3 days in live mode), so the split that matters is: 2xx when
 * the event needs nothing more, 409 or 5xx when a retry can succeed, 4xx when the request itself
 * is wrong.
 */

/** How a verified delivery ended, when it did not end in an error. */
export type WebhookOutcome =
  /** The handler ran and its result is recorded. */
  | { kind: "processed"; attempts: number }
  /** The event was already processed or ignored; nothing ran. */
  | { kind: "duplicate"; status: "processed" | "ignored"; attempts: number }
  /** The event's type is not in the catalog; recorded and acknowledged. */
  | { kind: "ignored"; attempts: number }
  /** Another delivery holds an unexpired lease on the event. */
  | { kind: "in-progress"; attempts: number | undefined }
  /** The handler ran, but its lease expired and a newer delivery took the event over first. */
  | { kind: "lease-lost"; attempts: number };

/** The pipeline's result: an outcome, or the error that stopped it. */
export type PipelineResult = { ok: true; outcome: WebhookOutcome } | { ok: false; error: unknown };

/** A small HTTP answer, shaped like a function URL result. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** A result as the caller sees it: status, a stable code (also the log's `outcome`), a public message. */
export interface ResultDescription {
  statusCode: number;
  code: string;
  message?: string;
  headers?: Record<string, string>;
}

const outcomeStatus = {
  processed: 200,
  duplicate: 200,
  ignored: 200,
  // Not an error: Stripe's retry will find the event settled. Never 5xx, which would read as a fault.
  "in-progress": 409,
  "lease-lost": 409,
} as const satisfies Record<WebhookOutcome["kind"], number>;

const signatureMessages: Record<SignatureFailureReason, string> = {
  "missing-header": "The Stripe-Signature header is missing.",
  "no-matching-signature": "No signature matches this endpoint's signing secret.",
  "timestamp-too-old": "The signature timestamp is outside the tolerance.",
  "timestamp-in-future": "The signature timestamp is in the future.",
};

/**
 * Describes a pipeline result: its HTTP status, a stable code, and a message safe to show the
 * sender (Stripe displays response bodies in its dashboard, so they help the operator without
 * revealing internals). Unknown errors describe as a bare 500.
 */
export function describeResult(result: PipelineResult): ResultDescription {
  if (result.ok) {
    const { kind } = result.outcome;
    const statusCode = outcomeStatus[kind];
    if (statusCode === 200) return { statusCode, code: kind };
    const message = "Another delivery of this event is being processed; retry later.";
    return { statusCode, code: kind.replace("-", "_"), message };
  }
  const { error } = result;
  if (error instanceof MethodNotAllowedError) {
    return { statusCode: 405, code: "method_not_allowed", message: "Use POST.", headers: { allow: "POST" } };
  }
  if (error instanceof UnsupportedMediaTypeError) {
    return { statusCode: 415, code: "unsupported_media_type", message: "Send application/json." };
  }
  if (error instanceof PayloadTooLargeError) {
    return { statusCode: 413, code: "payload_too_large", message: `The body exceeds ${error.limit} bytes.` };
  }
  if (error instanceof InvalidSignatureError) {
    return { statusCode: 400, code: "invalid_signature", message: signatureMessages[error.reason] };
  }
  if (error instanceof MalformedEventError) {
    return { statusCode: 400, code: "malformed_event", message: "The body is not a Stripe event." };
  }
  if (error instanceof LivemodeMismatchError) {
    // 422, not 2xx: acknowledging would drop the event for good, while refusing keeps Stripe
    // retrying (and flagging the endpoint) until the stage's mode or secret is fixed.
    const message = `This endpoint accepts ${error.stageMode}-mode events only.`;
    return { statusCode: 422, code: "livemode_mismatch", message };
  }
  if (error instanceof HandlerFailedError) {
    const message = "The event could not be processed; it will be retried.";
    return { statusCode: 500, code: "handler_failed", message };
  }
  if (error instanceof LedgerUnavailableError) {
    return { statusCode: 500, code: "ledger_unavailable", message: "Temporarily unavailable; retry later." };
  }
  return { statusCode: 500, code: "internal_error", message: "Internal error." };
}

/**
 * The HTTP answer for a pipeline result: the described status and headers, and a small JSON
 * body, `{"result": code}` on success or `{"error": code, "message": text}` otherwise.
 */
export function toHttpResponse(result: PipelineResult): HttpResponse {
  const { statusCode, code, message, headers } = describeResult(result);
  const body = statusCode < 300 ? { result: code } : { error: code, message };
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}
