import { describe, expect, it } from "vitest";
import { formatRequestLine, parseJsonBody } from "../src/request-log.ts";

const at = new Date(2026, 0, 2, 3, 4, 5);

describe("formatRequestLine", () => {
  it("states the event id, type and outcome the handler reported", () => {
    const line = formatRequestLine(
      {
        method: "POST",
        path: "/stripe/webhook",
        status: 200,
        durationMs: 14.4,
        response: { received: true, eventId: "evt_123", type: "invoice.paid", outcome: "processed" },
      },
      at,
    );
    expect(line).toBe("03:04:05 POST /stripe/webhook 200 evt_123 invoice.paid processed 14ms");
  });

  it("falls back to placeholders and a status-based outcome, and shows an error message", () => {
    const line = formatRequestLine(
      { method: "GET", path: "/stripe/webhook", status: 405, durationMs: 1, response: { error: "Method GET is not allowed" } },
      at,
    );
    expect(line).toBe("03:04:05 GET /stripe/webhook 405 - - rejected 1ms (Method GET is not allowed)");
  });
});

describe("parseJsonBody", () => {
  it("parses JSON bodies only", () => {
    expect(parseJsonBody(Buffer.from('{"a":1}'), "application/json; charset=utf-8")).toEqual({ a: 1 });
    expect(parseJsonBody(Buffer.from('{"a":1}'), "text/plain")).toBeUndefined();
    expect(parseJsonBody(Buffer.from("not json"), "application/json")).toBeUndefined();
  });
});
