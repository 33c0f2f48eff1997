import { describe, expect, it } from "vitest";
import { envelopeFacts, formatRequestLine, parseJsonBody } from "../../src/receiver/request-log.ts";

const at = new Date(2026, 0, 2, 3, 4, 5);
const event = Buffer.from(JSON.stringify({ id: "evt_123", object: "event", type: "invoice.paid", data: { object: { email: "a@b.c" } } }));

describe("formatRequestLine", () => {
  it("states the event's id and type and the handler's outcome, and nothing of the payload", () => {
    const line = formatRequestLine(
      { method: "POST", path: "/stripe/webhook", status: 200, durationMs: 14.4, requestBody: event, response: { result: "processed" } },
      at,
    );
    expect(line).toBe("03:04:05 POST /stripe/webhook 200 evt_123 invoice.paid processed 14ms");
    expect(line).not.toContain("a@b.c");
  });

  it("shows an error answer's code and message, and placeholders without an envelope", () => {
    const line = formatRequestLine(
      {
        method: "GET",
        path: "/stripe/webhook",
        status: 405,
        durationMs: 1,
        requestBody: Buffer.alloc(0),
        response: { error: "method_not_allowed", message: "Use POST." },
      },
      at,
    );
    expect(line).toBe("03:04:05 GET /stripe/webhook 405 - - method_not_allowed 1ms (Use POST.)");
  });
});

describe("envelopeFacts", () => {
  it("reads id and type from a JSON object only, and only token-like values", () => {
    expect(envelopeFacts(event)).toEqual({ id: "evt_123", type: "invoice.paid" });
    expect(envelopeFacts(Buffer.from("not json"))).toEqual({});
    expect(envelopeFacts(Buffer.from('["evt_1"]'))).toEqual({});
    expect(envelopeFacts(Buffer.from('{"id":"evt 1\\nforged log line","type":42}'))).toEqual({});
  });
});

describe("parseJsonBody", () => {
  it("parses JSON bodies only", () => {
    expect(parseJsonBody(Buffer.from('{"a":1}'), "application/json; charset=utf-8")).toEqual({ a: 1 });
    expect(parseJsonBody(Buffer.from('{"a":1}'), "text/plain")).toBeUndefined();
    expect(parseJsonBody(Buffer.from("not json"), "application/json")).toBeUndefined();
  });
});
