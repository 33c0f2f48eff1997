import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { gzipSync } from "node:zlib";
import { InvalidSignatureError, MalformedEventError, UnreadableBodyError } from "../src/errors.ts";
import { defaultToleranceSeconds, futureSkewSeconds } from "../src/limits.ts";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { thrown } from "@stripe-webhooks/testing/thrown";
import { parseSecrets, verifyStripeEvent, type VerificationOptions } from "../src/verify.ts";

// A fixed clock: every signature below is made relative to it.
const nowSeconds = 1_760_000_000;
const now = () => nowSeconds * 1000;
const secret = newWebhookSecret();

function signed(event: Record<string, unknown> = buildEvent("invoice.paid"), timestamp = nowSeconds) {
  const payload = JSON.stringify(event, null, 2);
  return { event, payload, bytes: Buffer.from(payload, "utf8"), header: signPayload(payload, secret, timestamp) };
}

function verify(bytes: Uint8Array, header: string | undefined, options: Partial<VerificationOptions> = {}) {
  return verifyStripeEvent(bytes, header, { secrets: [secret], now, ...options });
}

function failure(act: () => unknown): InvalidSignatureError {
  return thrown(InvalidSignatureError, act);
}

describe("verifyStripeEvent", () => {
  it("returns the event for a valid signature over the exact bytes", () => {
    const { event, bytes, header } = signed();

    const verified = verify(bytes, header);

    expect(verified.id).toBe(event.id);
    expect(verified.type).toBe("invoice.paid");
  });

  it("refuses the same event re-serialized (the signature covers bytes, not meaning)", () => {
    const { event, header } = signed();
    const compact = Buffer.from(JSON.stringify(event), "utf8");

    expect(failure(() => verify(compact, header)).reason).toBe("no-matching-signature");
  });

  it("refuses a body changed after signing", () => {
    const { payload, header } = signed();
    const tampered = Buffer.from(payload.replace('"amount_paid": 0', '"amount_paid": 1'), "utf8");

    expect(failure(() => verify(tampered, header)).reason).toBe("no-matching-signature");
  });

  it("verifies bodies holding multi-byte characters byte for byte", () => {
    const { bytes, header } = signed(buildEvent("invoice.paid", { object: { description: "Café ☕ ünïcode" } }));

    expect(verify(bytes, header).data.object).toMatchObject({ description: "Café ☕ ünïcode" });
  });

  it("refuses a missing or empty header", () => {
    const { bytes } = signed();

    expect(failure(() => verify(bytes, undefined)).reason).toBe("missing-header");
    expect(failure(() => verify(bytes, "  ")).reason).toBe("missing-header");
  });

  it("refuses a header without a timestamp or v1 signature", () => {
    const { bytes } = signed();

    expect(failure(() => verify(bytes, "v0=abc")).reason).toBe("no-matching-signature");
    expect(failure(() => verify(bytes, "garbage")).reason).toBe("no-matching-signature");
  });

  it("refuses a signature from another secret", () => {
    const { payload, bytes } = signed();
    const header = signPayload(payload, newWebhookSecret(), nowSeconds);

    expect(failure(() => verify(bytes, header)).reason).toBe("no-matching-signature");
  });

  describe("timestamps (injected clock)", () => {
    it("accepts a signature exactly at the default tolerance of 300 s", () => {
      const { bytes, header } = signed(undefined, nowSeconds - defaultToleranceSeconds);

      expect(verify(bytes, header).type).toBe("invoice.paid");
    });

    it("refuses a signature one second older than the tolerance", () => {
      const { bytes, header } = signed(undefined, nowSeconds - defaultToleranceSeconds - 1);

      expect(failure(() => verify(bytes, header)).reason).toBe("timestamp-too-old");
    });

    it("honours a configured tolerance", () => {
      const { bytes, header } = signed(undefined, nowSeconds - 600);

      expect(verify(bytes, header, { toleranceSeconds: 900 }).type).toBe("invoice.paid");
      expect(failure(() => verify(bytes, header, { toleranceSeconds: 599 })).reason).toBe("timestamp-too-old");
    });

    it("accepts a timestamp up to the documented clock skew in the future", () => {
      const { bytes, header } = signed(undefined, nowSeconds + futureSkewSeconds);

      expect(verify(bytes, header).type).toBe("invoice.paid");
    });

    it("refuses a timestamp further in the future than the skew", () => {
      const { bytes, header } = signed(undefined, nowSeconds + futureSkewSeconds + 1);

      expect(failure(() => verify(bytes, header)).reason).toBe("timestamp-in-future");
    });
  });

  describe("several secrets and signatures", () => {
    it("accepts a delivery signed by any one of the configured secrets (rotation overlap)", () => {
      const previous = newWebhookSecret();
      const { payload, bytes } = signed();
      const header = signPayload(payload, previous, nowSeconds);

      expect(verify(bytes, header, { secrets: [secret, previous] }).type).toBe("invoice.paid");
      expect(verify(bytes, header, { secrets: [previous, secret] }).type).toBe("invoice.paid");
    });

    it("accepts a header with several v1 signatures when one of them matches", () => {
      // Prepare: Stripe's rolling-secret header, "t=..,v1=<old secret>,v1=<new secret>".
      const { payload, bytes } = signed();
      const other = signPayload(payload, newWebhookSecret(), nowSeconds).split(",")[1];
      const ours = signPayload(payload, secret, nowSeconds).split(",")[1];

      // Act
      const verified = verify(bytes, `t=${nowSeconds},${other},${ours}`);

      // Assess
      expect(verified.type).toBe("invoice.paid");
      expect(failure(() => verify(bytes, `t=${nowSeconds},${other}`)).reason).toBe("no-matching-signature");
    });

    it("reports an old timestamp even when an earlier secret did not match", () => {
      const previous = newWebhookSecret();
      const { bytes, header } = signed(undefined, nowSeconds - 3600);

      expect(failure(() => verify(bytes, header, { secrets: [previous, secret] })).reason).toBe("timestamp-too-old");
    });
  });

  describe("signed bodies that are not Stripe events", () => {
    function signedRaw(payload: string) {
      return { bytes: Buffer.from(payload, "utf8"), header: signPayload(payload, secret, nowSeconds) };
    }

    it.each([
      ["invalid JSON", "{not json"],
      ["a JSON array", "[]"],
      ["an object without id", JSON.stringify({ type: "invoice.paid", created: 1, livemode: false, data: { object: {} } })],
      ["an object without type", JSON.stringify({ id: "evt_1", created: 1, livemode: false, data: { object: {} } })],
      ["an object without created", JSON.stringify({ id: "evt_1", type: "invoice.paid", livemode: false, data: { object: {} } })],
      ["an object without data.object", JSON.stringify({ id: "evt_1", type: "x", created: 1, livemode: false, data: {} })],
      ["a v2 thin event", JSON.stringify({ id: "evt_1", object: "v2.core.event", type: "x", created: "2025-01-01" })],
    ])("refuses %s as malformed", (_, payload) => {
      const { bytes, header } = signedRaw(payload);

      expect(() => verify(bytes, header)).toThrow(MalformedEventError);
    });

    it("refuses an envelope field out of shape, after the signature, naming the field", () => {
      const { bytes, header } = signed(buildEvent("invoice.paid", { id: "app#entitlement#cus_x" }));

      const error = (() => {
        try {
          verify(bytes, header);
        } catch (caught) {
          return caught;
        }
      })();

      expect(error).toBeInstanceOf(MalformedEventError);
      expect(error).toMatchObject({ reason: "invalid-id", value: '"app#entitlement#cus_x"' });
    });

    it("checks the signature before parsing: unsigned invalid JSON is a signature failure", () => {
      const bytes = Buffer.from("{not json", "utf8");

      expect(failure(() => verify(bytes, `t=${nowSeconds},v1=${"0".repeat(64)}`)).reason).toBe("no-matching-signature");
    });
  });

  describe("bodies no signature can match, refused for their own cause", () => {
    function unreadable(act: () => unknown): UnreadableBodyError {
      return thrown(UnreadableBodyError, act);
    }

    it("an empty body, signed or not", () => {
      const header = signPayload("", secret, nowSeconds);

      expect(unreadable(() => verify(Buffer.alloc(0), header)).reason).toBe("empty");
      expect(unreadable(() => verify(Buffer.alloc(0), undefined)).reason).toBe("empty");
    });

    it("a body sent with a Content-Encoding, before any secret is tried", () => {
      const { payload } = signed();
      const compressed = gzipSync(payload);
      const header = signPayload(payload, secret, nowSeconds);

      const error = unreadable(() => verify(compressed, header, { contentEncoding: "gzip" }));

      expect(error.reason).toBe("content-encoded");
      expect(error.encoding).toBe('"gzip"');
      // The same bytes decompressed by hand would verify: the cause is the encoding, not the secret.
      expect(verify(Buffer.from(payload, "utf8"), header).type).toBe("invoice.paid");
    });

    it("accepts Content-Encoding identity as no encoding", () => {
      const { bytes, header } = signed();

      expect(verify(bytes, header, { contentEncoding: "Identity" }).type).toBe("invoice.paid");
    });

    it("gzip bytes without a Content-Encoding header", () => {
      const { payload, header } = signed();

      expect(unreadable(() => verify(gzipSync(payload), header)).reason).toBe("gzip");
    });

    it("bytes that are not UTF-8, even signed over exactly those bytes", () => {
      const latin1 = Buffer.from('{"description": "caf\xe9"}', "latin1");
      const header = signPayload(latin1.toString("latin1"), secret, nowSeconds);

      expect(unreadable(() => verify(latin1, header)).reason).toBe("not-utf8");
    });
  });

  it("keeps neither the header nor the payload on the error it throws", () => {
    const { bytes, header } = signed(undefined, nowSeconds - 3600);

    const error = failure(() => verify(bytes, header));

    expect(error.cause).toBeUndefined();
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(header);
  });
});

describe("parseSecrets", () => {
  it("splits a rotation value on commas and drops blanks", () => {
    expect(parseSecrets(" whsec_a , whsec_b,,")).toEqual(["whsec_a", "whsec_b"]);
    expect(parseSecrets("")).toEqual([]);
  });
});

describe("limits", () => {
  it("use stripe-node's default tolerance", () => {
    expect(defaultToleranceSeconds).toBe(Stripe.webhooks.DEFAULT_TOLERANCE);
  });
});
