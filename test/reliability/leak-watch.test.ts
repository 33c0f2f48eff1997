import { newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { describe, expect, it } from "vitest";
import { LeakWatch } from "./support/leaks.ts";

/* The leak scan itself: it must see what it is meant to see, or its zero means nothing. */

describe("the leak scan", () => {
  const watch = new LeakWatch();
  const secret = watch.secret(newWebhookSecret());
  const header = watch.header(signPayload("{}", secret));
  const signature = header.split("v1=")[1] ?? "";
  const malformed = watch.header("t=soon,v1=not-a-real-signature");
  const marker = watch.marker();
  const line = (attributes: Record<string, unknown>) => JSON.stringify({ level: "WARN", message: "Stripe webhook refused", ...attributes });

  it.each([
    ["a signing secret", line({ error: `bad ${secret}` })],
    ["a signing secret's key without its prefix", line({ error: secret.slice("whsec_".length) })],
    ["a signature", line({ cause: `expected ${signature}` })],
    ["a malformed header value", line({ header: malformed })],
    ["something shaped like a header", line({ raw: "t=1700000000,v1=abc" })],
    ["a planted payload marker", line({ description: `note ${marker}` })],
  ])("finds %s in a log line", (_, text) => {
    expect(watch.findIn("test", text)).not.toEqual([]);
  });

  it("does not flag what the pipeline does log: ids, outcomes, redacted secrets", () => {
    const text = line({ eventId: "evt_test_123", outcome: "invalid_signature", error: "InvalidSignatureError: whsec_[redacted]", durationMs: 3 });
    expect(watch.findIn("test", text)).toEqual([]);
  });

  it("captures what is written to stdout, such as Powertools' JSON lines", () => {
    const capture = new LeakWatch();
    capture.startCapture();
    try {
      process.stdout.write(`${line({ eventId: "evt_1" })}\n`);
    } finally {
      capture.stopCapture();
    }
    expect(capture.jsonLines()).toEqual([expect.objectContaining({ eventId: "evt_1" })]);
  });
});
