import Stripe from "stripe";
import { asStripeEvent, describeValue } from "./envelope.ts";
import { InvalidSignatureError, MalformedEventError, UnreadableBodyError, type SignatureFailureReason } from "./errors.ts";
import { defaultToleranceSeconds, futureSkewSeconds } from "./limits.ts";
import { splitSecretList } from "./signing-secrets.ts";

// Kept importable from here, where the webhook path has always found it.
export { asStripeEvent } from "./envelope.ts";

/** How a delivery's signature is checked. */
export interface VerificationOptions {
  /** Every secret that may have signed the delivery; more than one during a rotation. */
  secrets: readonly string[];
  /** Oldest accepted signature timestamp, in seconds before now. */
  toleranceSeconds?: number;
  /** Furthest accepted signature timestamp, in seconds after now. */
  futureSkewSeconds?: number;
  /** The current time in epoch milliseconds; injectable so tests control it. */
  now?: () => number;
  /** The request's `Content-Encoding` header, if it had one. */
  contentEncoding?: string | undefined;
}

/**
 * The secrets in the configured value: `we_...:whsec_...` entries as the deploy resolves them
 * (signing-secrets.ts), or plain `whsec_...` ones as the local receiver passes them, separated by
 * commas while a rotation overlaps the old and the new one; blanks are ignored. The endpoint ids
 * matter to the deploy and the inspection tool, not to verification: any trusted secret may sign.
 */
export function parseSecrets(value: string): string[] {
  return splitSecretList(value).map((entry) => entry.secret);
}

/**
 * Verifies a delivery's `Stripe-Signature` header over the exact body bytes with the `stripe`
 * package, then parses the body into an event. Any one secret matching passes, and so does a
 * header carrying several `v1` signatures when one of them matches (stripe checks them all).
 * Beyond stripe's age check it refuses timestamps more than `futureSkewSeconds` ahead. First,
 * needing no secret, it refuses a body no signature could match for a reason of its own (empty,
 * compressed, not UTF-8) with {@link UnreadableBodyError}. Throws {@link InvalidSignatureError}
 * before anything is parsed, then {@link MalformedEventError} when the signed body is not a
 * Stripe event (see `asStripeEvent`).
 */
export function verifyStripeEvent(
  payload: Uint8Array,
  signatureHeader: string | undefined,
  options: VerificationOptions,
): Stripe.Event {
  // Before the header: whoever sent it, a body like this is the thing to fix.
  const text = readableText(payload, options.contentEncoding);
  if (signatureHeader === undefined || signatureHeader.trim() === "") {
    throw new InvalidSignatureError(
      "missing-header",
      "The Stripe-Signature header is missing: is the request coming from Stripe?",
    );
  }
  const nowMs = (options.now ?? Date.now)();
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  const parsed = matchAnySecret(text, signatureHeader, options.secrets, tolerance, nowMs);
  const timestamp = signatureTimestamp(signatureHeader);
  const skew = options.futureSkewSeconds ?? futureSkewSeconds;
  // Negated so a timestamp stripe accepted without a number (`t=abc` signs "NaN.<body>", and
  // NaN passes stripe's age check) is refused too.
  if (!(timestamp <= Math.floor(nowMs / 1000) + skew)) {
    throw new InvalidSignatureError(
      "timestamp-in-future",
      `The signature timestamp is more than ${skew} s in the future: check this host's clock.`,
    );
  }
  return asStripeEvent(parsed);
}

function matchAnySecret(
  text: string,
  header: string,
  secrets: readonly string[],
  toleranceSeconds: number,
  nowMs: number,
): unknown {
  const signature = Stripe.webhooks.signature;
  if (!signature) throw new Error("The stripe package has no webhook signature helper.");
  let reason: SignatureFailureReason = "no-matching-signature";
  for (const secret of secrets) {
    try {
      // The check alone first, so that whatever fails here is the header's or the secret's:
      // stripe throws a plain Error (not its verification error) for an empty `v1=`.
      signature.verifyHeader(text, header, secret, toleranceSeconds, undefined, nowMs);
    } catch (error) {
      // stripe checks the signature before the age, so this message means the secret matched.
      const tooOld = error instanceof Error && error.message.startsWith("Timestamp outside the tolerance zone");
      if (error instanceof Stripe.errors.StripeSignatureVerificationError && tooOld) reason = "timestamp-too-old";
      continue;
    }
    // Verified: parse the same text once. (stripe's constructEvent would check the signature a
    // second time, a second HMAC over the whole body, before doing just this.)
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new MalformedEventError("not-json", "The signed body is not JSON.", { cause: error });
    }
  }
  throw new InvalidSignatureError(
    reason,
    reason === "timestamp-too-old"
      ? `The signature is older than ${toleranceSeconds} s: a replay, or a delivery delayed past the tolerance.`
      : "No signature matches the configured secrets: " +
          "check that the endpoint's signing secret is the one this stage holds.",
  );
}

// The body as the text Stripe signed, byte for byte: stripe's own decoding drops a leading
// byte-order mark and replaces invalid UTF-8, so different bytes would verify as the same text.
// Stripe sends uncompressed UTF-8 JSON without a BOM; a body that is anything else is refused
// for what it is, since no signature over it can match. Only bytes are looked at: nothing is
// parsed before the signature is verified.
function readableText(payload: Uint8Array, contentEncoding: string | undefined): string {
  if (payload.length === 0) {
    throw new UnreadableBodyError("empty", "The body is empty: Stripe sends every event as a JSON body.");
  }
  const encoding = contentEncoding?.trim().toLowerCase() ?? "";
  if (encoding !== "" && encoding !== "identity") {
    throw new UnreadableBodyError(
      "content-encoded",
      "The body is compressed (Content-Encoding): Stripe sends it uncompressed, so something in front of this endpoint compressed it.",
      describeValue(contentEncoding),
    );
  }
  if (payload[0] === 0x1f && payload[1] === 0x8b) {
    throw new UnreadableBodyError(
      "gzip",
      "The body is gzip data: Stripe sends it uncompressed, so something in front of this endpoint compressed it.",
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(payload);
  } catch {
    throw new UnreadableBodyError(
      "not-utf8",
      "The body is not valid UTF-8: Stripe sends UTF-8 JSON, so the bytes were re-encoded on the way or do not come from Stripe.",
    );
  }
}

// The timestamp stripe verified the signature against, read by stripe's own rule: the LAST item
// whose key is exactly `t`. Reading another one (say the first) would let a sender prepend a
// fresh `t=` to a signature stamped far ahead and slip past the future check.
function signatureTimestamp(header: string): number {
  let timestamp = Number.NaN;
  for (const item of header.split(",")) {
    const [key, value] = item.split("=");
    if (key === "t") timestamp = Number.parseInt(value ?? "", 10);
  }
  return timestamp;
}
