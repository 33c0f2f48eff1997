import { describe, expect, it } from "vitest";
import { HandlerFailedError, InvalidSignatureError, WebhookError, errorSummary } from "../src/errors.ts";

describe("errors", () => {
  it("are WebhookErrors with their own name, keeping the cause", () => {
    const cause = new Error("boom");

    const error = new HandlerFailedError("evt_1", "invoice.paid", cause);

    expect(error).toBeInstanceOf(WebhookError);
    expect(error.name).toBe("HandlerFailedError");
    expect(error.cause).toBe(cause);
    expect(new InvalidSignatureError("missing-header", "x").name).toBe("InvalidSignatureError");
  });
});

describe("errorSummary", () => {
  it("masks signing secrets and API keys, including base64url characters", () => {
    const error = new Error("bad config whsec_ab-cd_EF12 and sk_live_51Xyz-9 near rk_test_abc");

    const summary = errorSummary(error);

    expect(summary).toBe("Error: bad config whsec_[redacted] and sk_[redacted] near rk_[redacted]");
  });

  it("is cut to the maximum length", () => {
    expect(errorSummary(new Error("x".repeat(1000)), 50)).toHaveLength(50);
  });

  it("summarises thrown non-errors", () => {
    expect(errorSummary("nope")).toBe("Non-error thrown: nope");
  });
});
