import type Stripe from "stripe";
import { MalformedEventError, type MalformedEventReason } from "./errors.ts";

/*
 * The envelope every Stripe (v1) event has, checked before anything reaches the ledger. The
 * event id is the ledger's key, so only an `evt_` id may address it: the reconciler's state
 * (`reconciler#...`) and the handlers' effects (`app#...`) live in the same table under keys no
 * event can take. The other checks keep each field within what the ledger stores and the tools
 * print: a bounded, printable type; a `created` that converts to a date; the JSON types the
 * pipeline reads. The event's object itself is Stripe's contract for its api_version and is
 * only checked to be an object.
 */

/** An event id's longest length: Stripe's limit on object ids, well under DynamoDB's key limit. */
export const maxEventIdLength = 255;
/** A type's longest length: Stripe's longest event types are under 60 characters. */
export const maxEventTypeLength = 100;
/** An api_version's longest length: Stripe's look like `2026-01-28.clover`. */
export const maxApiVersionLength = 64;
/** `created` bounds, epoch seconds: 2010-01-01 (before Stripe's first event) to 2100-01-01. */
export const createdRange = { min: 1_262_304_000, max: 4_102_444_800 } as const;

const eventIdPattern = /^evt_[A-Za-z0-9_]+$/;
// Lower-case segments joined by single dots (`invoice.paid`, `v1.billing.meter...`). A type with
// no dot is allowed: the catalog, not the envelope, decides what is handled, and an unknown but
// printable type is recorded ignored rather than refused.
const eventTypePattern = /^[a-z0-9_]+(?:\.[a-z0-9_]+)*$/;
const accountPattern = /^acct_[A-Za-z0-9_]+$/;
const apiVersionPattern = /^[A-Za-z0-9_.-]+$/;

/**
 * Checks a parsed, authentic body against the envelope of a Stripe event and returns it typed:
 * `id` is `evt_` then letters, digits and underscores (at most 255 characters); `type` is
 * lower-case dot-separated segments of letters, digits and underscores (at most 100); `created`
 * a whole number of epoch seconds between 2010 and 2100; `livemode` a boolean; `api_version`
 * present, a version string or null (Stripe sends null for events older than API versioning);
 * `account`, when present, an `acct_` id; `data.object` an object. Throws
 * {@link MalformedEventError} naming the first field that fails, with its value described for
 * the logs (escaped, cut short, never the event's object).
 */
export function asStripeEvent(value: unknown): Stripe.Event {
  if (!isRecord(value)) throw malformed("not-an-object", "The signed body is not a JSON object.", value);
  const { id, type, created, livemode, data, account } = value;
  if (typeof id !== "string" || id.length > maxEventIdLength || !eventIdPattern.test(id)) {
    throw malformed(
      "invalid-id",
      `The event's id is not a Stripe event id: evt_ then letters, digits and underscores, at most ${maxEventIdLength} characters.`,
      id,
    );
  }
  if (typeof type !== "string" || type.length > maxEventTypeLength || !eventTypePattern.test(type)) {
    throw malformed(
      "invalid-type",
      `The event's type is not a Stripe event type: lower-case letters, digits and underscores in dot-separated segments, at most ${maxEventTypeLength} characters.`,
      type,
    );
  }
  if (typeof created !== "number" || !Number.isInteger(created) || created < createdRange.min || created >= createdRange.max) {
    throw malformed("invalid-created", "The event's created is not a whole number of epoch seconds between 2010 and 2100.", created);
  }
  if (typeof livemode !== "boolean") throw malformed("invalid-livemode", "The event's livemode is not a boolean.", livemode);
  if (!("api_version" in value) || !isApiVersion(value.api_version)) {
    throw malformed(
      "invalid-api-version",
      `The event's api_version is missing, or neither null nor a version of at most ${maxApiVersionLength} characters.`,
      value.api_version,
    );
  }
  if (account !== undefined && (typeof account !== "string" || account.length > maxEventIdLength || !accountPattern.test(account))) {
    throw malformed("invalid-account", "The event's account is not a Stripe account id (acct_...).", account);
  }
  // Only the shape is described: the object is the customer's data, which no log may quote.
  if (!isRecord(data) || !isRecord(data.object)) {
    const shape = shapeOf(isRecord(data) ? data.object : data);
    throw new MalformedEventError("invalid-data-object", "The event has no data object.", { value: shape });
  }
  return value as unknown as Stripe.Event;
}

/**
 * A value as a log may show it: a string quoted, with control, invisible and bidirectional
 * characters escaped, cut to `maxLength` characters with its full length noted; a number or
 * boolean as written; `(missing)` for undefined; anything else by its kind only.
 */
export function describeValue(value: unknown, maxLength = 40): string {
  if (value === undefined) return "(missing)";
  if (value === null) return "null";
  if (typeof value === "string") {
    const shown = escapeText(value.length > maxLength ? value.slice(0, maxLength) : value);
    return value.length > maxLength ? `"${shown}"… (${value.length} characters)` : `"${shown}"`;
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return shapeOf(value);
}

function malformed(reason: MalformedEventReason, message: string, value: unknown): MalformedEventError {
  return new MalformedEventError(reason, message, { value: describeValue(value) });
}

function isApiVersion(value: unknown): boolean {
  if (value === null) return true;
  return typeof value === "string" && value.length <= maxApiVersionLength && apiVersionPattern.test(value);
}

// A description of a value's kind that never includes its content.
function shapeOf(value: unknown): string {
  if (value === undefined) return "(missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

// C0 and C1 controls, zero-width and bidirectional marks, line and paragraph separators: what
// would let a logged value rewrite or hide the text around it.
const unsafeCharacters = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"\\]/g;

function escapeText(text: string): string {
  return text.replace(unsafeCharacters, (character) => {
    if (character === '"' || character === "\\") return `\\${character}`;
    return `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
