import { createHmac } from "node:crypto";
import { InvalidSignatureError } from "@stripe-webhooks/core/errors";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/core/testing/stripe-events";
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
