import { createHmac } from "node:crypto";
import { InvalidSignatureError } from "@stripe-webhooks/core/errors";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { verifyStripeEvent } from "@stripe-webhooks/core/verify";
import { describe, expect, it } from "vitest";

/*
 * Regression tests for the signature-header bugs this suite found in core's verify.ts, at the
 * function's level (the bad-input table covers them end to end, over HTTP and direct).
 */

const secret = newWebhookSecret();
const payload = JSON.stringify(buildEvent("invoice.paid"), null, 2);
const bytes = Buffer.from(payload, "utf8");
const nowMs = Date.now();
const now = Math.floor(nowMs / 1000);

// The v1 signature over `<t>.<body>`, for timestamps stripe's own helper would not write.
function v1(key: string, timestamp: number, body: string): string {
  return createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex");
}

function refusal(header: string, body: Uint8Array = bytes): InvalidSignatureError | undefined {
  try {
    verifyStripeEvent(body, header, { secrets: [secret], now: () => nowMs });
  } catch (error) {
    if (error instanceof InvalidSignatureError) return error;
    throw error;
  }
  return undefined;
}

describe("the future-skew check reads the timestamp stripe verified", () => {
  const ahead = signPayload(payload, secret, now + 3600);

  it("refuses a signature stamped an hour ahead", () => {
    expect(refusal(ahead)?.reason).toBe("timestamp-in-future");
  });

  it("still refuses it with a fresh t= prepended (stripe uses the last t=)", () => {
    expect(refusal(`t=${now},${ahead}`)?.reason).toBe("timestamp-in-future");
  });

  it("still refuses it with a fresh ' t=' prepended (a key stripe does not read)", () => {
    expect(refusal(` t=${now},${ahead}`)?.reason).toBe("timestamp-in-future");
  });

  it("refuses a signature over a non-numeric t=, which stripe's age check lets through", () => {
    // Only a holder of the secret could make it: stripe signs and checks "NaN.<body>".
    expect(refusal(`t=soon,v1=${v1(secret, Number.NaN, payload)}`)).toBeInstanceOf(InvalidSignatureError);
  });

  it("accepts a genuine header with a stale t= before the real one", () => {
    expect(refusal(`t=${now - 1000},${signPayload(payload, secret, now)}`)).toBeUndefined();
  });
});

describe("the signature covers the exact bytes", () => {
  it("refuses a genuine body with a byte-order mark prepended (stripe's decoding drops it)", () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    expect(refusal(signPayload(payload, secret, now), withBom)?.reason).toBe("no-matching-signature");
  });

  it("refuses bytes that are not UTF-8, even signed over the text stripe would decode them to", () => {
    const invalid = Buffer.from([0x7b, 0xff, 0x7d]);
    const decodedByStripe = new TextDecoder().decode(invalid);
    // Refused on the bytes, before any secret is tried, for what they are (issue 18).
    expect(() => verifyStripeEvent(invalid, signPayload(decodedByStripe, secret, now), { secrets: [secret], now: () => nowMs })).toThrow(
      expect.objectContaining({ name: "UnreadableBodyError", reason: "not-utf8" }),
    );
  });

  it("still verifies multi-byte UTF-8 byte for byte", () => {
    const text = JSON.stringify(buildEvent("invoice.paid", { object: { description: "Café ☕ – ünïcode 𝄞" } }));
    expect(refusal(signPayload(text, secret, now), Buffer.from(text, "utf8"))).toBeUndefined();
  });
});

describe("a broken header is a signature failure, never a malformed event", () => {
  it("answers an empty v1= as a signature failure", () => {
    expect(refusal(`t=${now},v1=`)?.reason).toBe("no-matching-signature");
  });

  it("answers an empty v1= next to a genuine one as a signature failure (stripe's compare throws on it)", () => {
    expect(refusal(`${signPayload(payload, secret, now)},v1=`)).toBeInstanceOf(InvalidSignatureError);
  });
});
