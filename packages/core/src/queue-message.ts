import { createHash } from "node:crypto";
import type Stripe from "stripe";
import { asStripeEvent } from "./envelope.ts";
import { ConfigurationError, MalformedEventError, WebhookError } from "./errors.ts";

/*
 * What the queued webhook sends to its SQS FIFO queue for a verified event, and how the consumer
 * reads it back. Three decisions live here:
 *
 * - The message group is the event's subject (its customer, else its object), so SQS hands one
 *   customer's events to the consumer one at a time, in the order they were queued; a Connect
 *   event's group is prefixed with its account, because ids are only unique per account.
 * - The deduplication id is the event id, so a delivery Stripe repeats within SQS's five-minute
 *   window is accepted but not queued twice (the ledger catches later repeats).
 * - The body carries the verified event itself when it fits, else a reference to it. Why not
 *   always the reference: fetching costs a Stripe API read per event, and keeping the handlers
 *   under Stripe's read limit is the reason the queue exists. Why a limit below SQS's own: see
 *   `defaultMaxInlineBytes`. The reference is enough to fetch the same event from Stripe's Events
 *   API, authenticated by the API key rather than by a signature, before processing.
 *
 * Pure: no AWS SDK, so the local stand-in, the webhook and the consumer share it as is.
 */

/** The body format's version, so a consumer refuses a body written by a newer webhook. */
export const queueMessageVersion = 1;

/** The largest message body SQS accepts at all, in bytes: 1 MiB since August 2025. */
export const sqsMaxMessageBytes = 1024 * 1024;

/**
 * The default largest body that carries the event inline, in bytes (256 KiB). A queue's own
 * `MaximumMessageSize` may be below SQS's maximum (256 KiB was the limit until August 2025, and
 * infrastructure tools still document it as the attribute's default), and SQS bills each 64 KiB
 * of a message as one request. Stripe's events are far smaller, so only an outlier pays the
 * Stripe API read that a reference costs.
 */
export const defaultMaxInlineBytes = 256 * 1024;

/** The smallest inline limit accepted: any reference must still fit under it. */
export const minInlineBytes = 1024;

/** SQS's rules for a MessageGroupId and a MessageDeduplicationId: printable ASCII, 1 to 128. */
const sqsIdPattern = /^[\x21-\x7e]{1,128}$/;

/** Event and account ids as Stripe issues them; a reference's id ends up in an API path. */
const eventIdPattern = /^evt_[A-Za-z0-9_]{1,251}$/;
const accountIdPattern = /^acct_[A-Za-z0-9_]{1,250}$/;

/** What the consumer needs to fetch an event that was too large to queue inline. */
export interface QueuedEventReference {
  id: string;
  type: string;
  /** Epoch seconds, as on the event. */
  created: number;
  livemode: boolean;
  /** The connected account, for a Connect event: the fetch must be made on that account. */
  account?: string;
  /**
   * The version the delivered event was rendered at. The Events API may render the fetched copy
   * at another version, which the consumer can only notice by comparing with this.
   */
  api_version?: string | null;
}

/** What a queue message carries: the event itself, or a reference to fetch it by. */
export type QueuedEvent =
  | { kind: "event"; event: Stripe.Event }
  | { kind: "reference"; reference: QueuedEventReference };

/** A message ready for SQS's SendMessage: `input` spreads next to the `QueueUrl`. */
export interface EncodedQueueMessage {
  input: {
    MessageBody: string;
    MessageGroupId: string;
    MessageDeduplicationId: string;
  };
  /** Whether the body holds the event or only a reference to it. */
  kind: QueuedEvent["kind"];
  /** The body's size in bytes, as SQS counts it (UTF-8). */
  bodyBytes: number;
}

export interface EncodeOptions {
  /** The largest body that carries the event inline; {@link defaultMaxInlineBytes} unless set. */
  maxInlineBytes?: number;
}

/** Why a queue message body could not be read. */
export type MalformedQueueMessageReason = "not-json" | "not-an-envelope" | "unknown-version" | "invalid-event" | "invalid-reference";

/**
 * A queue message body is not one {@link encodeQueueMessage} writes: not JSON, of another format
 * version, or missing an event field. Retrying cannot help, so the consumer should let it go to
 * the dead-letter queue. The message names the failing field, never a value from the body.
 */
export class MalformedQueueMessageError extends WebhookError {
  readonly reason: MalformedQueueMessageReason;

  constructor(reason: MalformedQueueMessageReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MalformedQueueMessageError";
    this.reason = reason;
  }
}

/**
 * The event's subject, the thing its changes are about: the customer of its object when the
 * object has one (`data.object.customer`, an id or an expanded customer), the object itself when
 * it is a customer, else the object's id. Undefined when the object has none of these. Events of
 * one subject are processed one at a time and in order, so a handler reading and writing a
 * customer's state never races another event of that customer.
 */
export function eventSubject(event: Stripe.Event): string | undefined {
  const object: unknown = event.data.object;
  if (!isRecord(object)) return undefined;
  const id = nonEmptyString(object.id);
  if (object.object === "customer" && id !== undefined) return id;
  const customer = object.customer;
  const customerId = isRecord(customer) ? nonEmptyString(customer.id) : nonEmptyString(customer);
  return customerId ?? id;
}

/**
 * The SQS MessageGroupId for an event: its subject ({@link eventSubject}), prefixed with the
 * connected account for a Connect event (`acct_123/cus_456`), else the event id when it has no
 * subject. A value SQS would refuse (over 128 characters, or outside printable ASCII) is replaced
 * by `sha256:` and its hash, so the same subject still always lands in the same group.
 */
export function messageGroupId(event: Stripe.Event): string {
  const subject = eventSubject(event) ?? event.id;
  const account = nonEmptyString(event.account);
  return sqsSafeId(account === undefined ? subject : `${account}/${subject}`);
}

/**
 * The SQS MessageDeduplicationId for an event: its id, so SQS drops a repeated delivery of it
 * within its five-minute window. An id SQS would refuse is replaced by its hash, as in
 * {@link messageGroupId}; Stripe's event ids never are.
 */
export function messageDeduplicationId(event: Stripe.Event): string {
  return sqsSafeId(event.id);
}

/**
 * Builds the SQS message for a verified event: its group ({@link messageGroupId}), its
 * deduplication id ({@link messageDeduplicationId}) and a versioned JSON body holding the event,
 * or, when that body would exceed `maxInlineBytes`, a {@link QueuedEventReference} the consumer
 * fetches the event by. Throws {@link ConfigurationError} for a limit outside 1 KiB to 1 MiB.
 */
export function encodeQueueMessage(event: Stripe.Event, options: EncodeOptions = {}): EncodedQueueMessage {
  const limit = options.maxInlineBytes ?? defaultMaxInlineBytes;
  if (!Number.isInteger(limit) || limit < minInlineBytes || limit > sqsMaxMessageBytes) {
    throw new ConfigurationError(
      `The queue message inline limit must be a whole number of bytes from ${minInlineBytes} to ${sqsMaxMessageBytes}.`,
    );
  }
  const ids = { MessageGroupId: messageGroupId(event), MessageDeduplicationId: messageDeduplicationId(event) };
  const inline = serialize({ v: queueMessageVersion, kind: "event", event });
  const inlineBytes = Buffer.byteLength(inline, "utf8");
  if (inlineBytes <= limit) return { input: { MessageBody: inline, ...ids }, kind: "event", bodyBytes: inlineBytes };

  const reference = serialize({ v: queueMessageVersion, kind: "reference", reference: referenceTo(event) });
  return { input: { MessageBody: reference, ...ids }, kind: "reference", bodyBytes: Buffer.byteLength(reference, "utf8") };
}

/**
 * Reads a queue message body written by {@link encodeQueueMessage}: the event, or the reference
 * to fetch it by. Checks the format version; an event gets the webhook's own envelope check
 * (`asStripeEvent`), a reference the fields the consumer relies on (an `evt_` id, a type,
 * `created`, `livemode`, an `acct_` account when present). Throws
 * {@link MalformedQueueMessageError} otherwise.
 */
export function decodeQueueMessage(body: string): QueuedEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // Without the parser's error as the cause: its message may quote the body.
    throw new MalformedQueueMessageError("not-json", "The queue message body is not JSON.");
  }
  if (!isRecord(parsed) || !("v" in parsed)) {
    throw new MalformedQueueMessageError("not-an-envelope", "The queue message body is not a queued Stripe event.");
  }
  if (parsed.v !== queueMessageVersion) {
    throw new MalformedQueueMessageError(
      "unknown-version",
      `The queue message body has format version ${describeVersion(parsed.v)}; this consumer reads version ${queueMessageVersion}: deploy the consumer together with the webhook.`,
    );
  }
  if (parsed.kind === "event") return { kind: "event", event: asQueuedEvent(parsed.event) };
  if (parsed.kind === "reference") return { kind: "reference", reference: asReference(parsed.reference) };
  throw new MalformedQueueMessageError("not-an-envelope", "The queue message body holds neither an event nor a reference.");
}

function referenceTo(event: Stripe.Event): QueuedEventReference {
  const account = nonEmptyString(event.account);
  return {
    id: event.id,
    type: event.type,
    created: event.created,
    livemode: event.livemode,
    ...(account === undefined ? {} : { account }),
    ...(event.api_version === undefined ? {} : { api_version: event.api_version }),
  };
}

// The same envelope check the webhook made before queueing, so exactly what it queued reads back.
function asQueuedEvent(value: unknown): Stripe.Event {
  let event: Stripe.Event;
  try {
    event = asStripeEvent(value);
  } catch (error) {
    if (!(error instanceof MalformedEventError)) throw error;
    // Its reason only: the envelope error describes the offending value, which came from the body.
    throw new MalformedQueueMessageError("invalid-event", `The queued event is not a Stripe event (${error.reason}).`);
  }
  if ((event as { object?: unknown }).object !== "event") {
    throw new MalformedQueueMessageError("invalid-event", 'The queued event\'s object is not "event".');
  }
  return event;
}

function asReference(value: unknown): QueuedEventReference {
  const invalid = (field: string) =>
    new MalformedQueueMessageError("invalid-reference", `The queued event reference's ${field} is missing or out of shape.`);
  const fields = checkIdentity(value, invalid);
  const apiVersion = fields.api_version;
  if (apiVersion !== undefined && apiVersion !== null && typeof apiVersion !== "string") throw invalid("api_version");
  const account = fields.account;
  return {
    id: fields.id,
    type: fields.type,
    created: fields.created,
    livemode: fields.livemode,
    ...(typeof account === "string" ? { account } : {}),
    ...(apiVersion === undefined ? {} : { api_version: apiVersion }),
  };
}

interface Identity extends Record<string, unknown> {
  id: string;
  type: string;
  created: number;
  livemode: boolean;
}

// The fields an event and a reference share, checked the same way for both.
function checkIdentity(value: unknown, invalid: (field: string) => MalformedQueueMessageError): Identity {
  if (!isRecord(value)) throw invalid("body");
  const { id, type, created, livemode, account } = value;
  if (typeof id !== "string" || !eventIdPattern.test(id)) throw invalid("id");
  if (typeof type !== "string" || type.length === 0 || type.length > 100) throw invalid("type");
  if (typeof created !== "number" || !Number.isInteger(created) || created < 0) throw invalid("created");
  if (typeof livemode !== "boolean") throw invalid("livemode");
  if (account !== undefined && account !== null && (typeof account !== "string" || !accountIdPattern.test(account))) {
    throw invalid("account");
  }
  return { ...value, id, type, created, livemode };
}

// JSON.stringify escapes control characters and lone surrogates but not the noncharacters
// U+FFFE and U+FFFF, which SQS refuses in a body; they can only occur inside JSON strings, where
// their escaped form reads back as the same text.
function serialize(value: unknown): string {
  return JSON.stringify(value).replace(/[\ufffe\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16)}`);
}

function sqsSafeId(value: string): string {
  if (sqsIdPattern.test(value)) return value;
  return `sha256:${createHash("sha256").update(value, "utf8").digest("hex")}`;
}

function describeVersion(value: unknown): string {
  return typeof value === "number" && Number.isInteger(value) ? String(value) : `(not a number: ${typeof value})`;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
