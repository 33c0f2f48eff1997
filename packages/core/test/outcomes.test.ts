import { describe, expect, it } from "vitest";
import {
  ConfigurationError,
  HandlerFailedError,
  InvalidSignatureError,
  LedgerRejectedError,
  LedgerUnavailableError,
  LivemodeMismatchError,
  MalformedEventError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  UnreadableBodyError,
  UnsupportedMediaTypeError,
} from "../src/errors.ts";
import { toHttpResponse } from "../src/http.ts";
import { describeOutcome, summaryMessages } from "../src/outcomes.ts";
import type { EventResult } from "../src/process-event.ts";

describe("toHttpResponse", () => {
  it.each<[string, EventResult, number, string]>([
    ["processed", { ok: true, outcome: { kind: "processed", attempts: 1 } }, 200, "processed"],
    ["duplicate", { ok: true, outcome: { kind: "duplicate", status: "processed", attempts: 1 } }, 200, "duplicate"],
    ["ignored", { ok: true, outcome: { kind: "ignored", attempts: 1 } }, 200, "ignored"],
    ["in progress", { ok: true, outcome: { kind: "in_progress", attempts: 1 } }, 409, "in_progress"],
    ["lease lost", { ok: true, outcome: { kind: "lease_lost", attempts: 1 } }, 409, "lease_lost"],
    ["wrong method", { ok: false, error: new MethodNotAllowedError("GET") }, 405, "method_not_allowed"],
    ["not JSON", { ok: false, error: new UnsupportedMediaTypeError("text/plain") }, 415, "unsupported_media_type"],
    ["too large", { ok: false, error: new PayloadTooLargeError(2, 1) }, 413, "payload_too_large"],
    ["bad signature", { ok: false, error: new InvalidSignatureError("no-matching-signature", "x") }, 400, "invalid_signature"],
    ["an empty body", { ok: false, error: new UnreadableBodyError("empty", "x") }, 400, "unreadable_body"],
    ["not an event", { ok: false, error: new MalformedEventError("invalid-id", "x") }, 400, "malformed_event"],
    ["livemode mismatch", { ok: false, error: new LivemodeMismatchError("test", true) }, 422, "livemode_mismatch"],
    ["handler failed", { ok: false, error: new HandlerFailedError("evt_1", "invoice.paid", new Error("x")) }, 500, "handler_failed"],
    ["DynamoDB down", { ok: false, error: new LedgerUnavailableError("claim", new Error("x")) }, 500, "ledger_unavailable"],
    ["DynamoDB rejects the request", { ok: false, error: new LedgerRejectedError("claim", "UpdateItem", new Error("x")) }, 500, "ledger_rejected"],
    ["misconfigured", { ok: false, error: new ConfigurationError("x") }, 500, "internal_error"],
    ["a bug", { ok: false, error: new TypeError("x is undefined") }, 500, "internal_error"],
  ])("%s -> %i %s", (_, result, statusCode, code) => {
    const response = toHttpResponse(describeOutcome(result));

    expect(response.statusCode).toBe(statusCode);
    expect(response.headers["content-type"]).toBe("application/json");
    const body: unknown = JSON.parse(response.body);
    expect(body).toMatchObject(statusCode < 300 ? { result: code } : { error: code });
  });

  it("tells a 405 which method to use", () => {
    const response = toHttpResponse(describeOutcome({ ok: false, error: new MethodNotAllowedError("PUT") }));

    expect(response.headers.allow).toBe("POST");
  });

  it("never puts an internal error's message or cause in the body", () => {
    const cause = new Error("connect ECONNREFUSED 10.0.0.7:443 table arn:aws:dynamodb:eu-west-1:123456789012:table/ledger");

    const response = toHttpResponse(describeOutcome({ ok: false, error: new LedgerUnavailableError("claim", cause) }));

    expect(response.body).not.toContain("ECONNREFUSED");
    expect(response.body).not.toContain("arn:aws");
    expect(response.body.length).toBeLessThan(200);
  });
});

describe("describeOutcome", () => {
  it.each<[string, EventResult, "info" | "warn" | "error", string]>([
    ["processed", { ok: true, outcome: { kind: "processed", attempts: 1 } }, "info", summaryMessages.handled],
    ["in progress", { ok: true, outcome: { kind: "in_progress", attempts: 1 } }, "info", summaryMessages.handled],
    ["bad signature", { ok: false, error: new InvalidSignatureError("missing-header", "x") }, "warn", summaryMessages.refused],
    ["too large", { ok: false, error: new PayloadTooLargeError(2, 1) }, "warn", summaryMessages.refused],
    ["livemode mismatch", { ok: false, error: new LivemodeMismatchError("live", false) }, "error", summaryMessages.misconfigured],
    ["handler failed", { ok: false, error: new HandlerFailedError("evt_1", "invoice.paid", new Error("x")) }, "error", summaryMessages.failed],
    ["misconfigured", { ok: false, error: new ConfigurationError("x") }, "error", summaryMessages.failed],
    ["a ledger request rejected", { ok: false, error: new LedgerRejectedError("claim", "UpdateItem", new Error("x")) }, "error", summaryMessages.ledgerRejected],
    ["a body not UTF-8", { ok: false, error: new UnreadableBodyError("not-utf8", "x") }, "warn", summaryMessages.refused],
    ["not an event", { ok: false, error: new MalformedEventError("invalid-created", "x") }, "warn", summaryMessages.refused],
    ["a thrown string", { ok: false, error: "boom" }, "error", summaryMessages.failed],
  ])("logs %s at %s", (_, result, level, summary) => {
    expect(describeOutcome(result)).toMatchObject({ level, summary });
  });

  it("gives a 409 a message that says to retry, and a 200 none", () => {
    expect(describeOutcome({ ok: true, outcome: { kind: "lease_lost", attempts: 2 } }).message).toContain("retry");
    expect(describeOutcome({ ok: true, outcome: { kind: "processed", attempts: 1 } }).message).toBeUndefined();
  });

  it("promises no retry a 500 cannot keep: the sender may or may not retry (Stripe does, a local trigger does not)", () => {
    const handler = describeOutcome({ ok: false, error: new HandlerFailedError("evt_1", "invoice.paid", new Error("x")) });

    expect(handler.message).not.toMatch(/will be retried/);
    expect(handler.message).toMatch(/a retry of this delivery can succeed/);
  });

  it("answers a ledger request DynamoDB rejects as a bug, not as a retry later", () => {
    const rejected = describeOutcome({ ok: false, error: new LedgerRejectedError("claim", "UpdateItem", new Error("x")) });

    expect(rejected).toMatchObject({ statusCode: 500, code: "ledger_rejected", level: "error" });
    expect(rejected.message).not.toMatch(/retry/i);
  });

  it("names the real cause of a body no signature can match", () => {
    const messages = (["empty", "content-encoded", "gzip", "not-utf8"] as const).map(
      (reason) => describeOutcome({ ok: false, error: new UnreadableBodyError(reason, "x") }).message ?? "",
    );

    expect(messages[0]).toMatch(/empty/);
    expect(messages[1]).toMatch(/compressed/);
    expect(messages[2]).toMatch(/gzip/);
    expect(messages[3]).toMatch(/UTF-8/);
    for (const message of messages) expect(message).not.toMatch(/signature|secret/i);
  });
});
