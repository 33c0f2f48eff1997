import { describe, expect, it } from "vitest";
import { MethodNotAllowedError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../src/errors.ts";
import { decodeBody, decodedBodyLength, headerValue, isJsonContentType, readWebhookBody, type WebhookRequest } from "../src/request.ts";

function request(overrides: Partial<WebhookRequest> = {}): WebhookRequest {
  return {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: '{"id":"evt_1"}',
    isBase64Encoded: false,
    ...overrides,
  };
}

describe("decodeBody", () => {
  it("returns a base64 body as the exact bytes sent, including bytes that are not valid UTF-8", () => {
    // Prepare: bytes a text round trip would change (an invalid UTF-8 sequence, a CRLF).
    const sent = Buffer.from([0x7b, 0xff, 0xfe, 0x0d, 0x0a, 0x7d]);

    // Act
    const decoded = decodeBody(sent.toString("base64"), true);

    // Assess
    expect(decoded.equals(sent)).toBe(true);
  });

  it("encodes a text body as UTF-8, so multi-byte characters keep their byte length", () => {
    const text = '{"description":"Café ☕"}';

    const decoded = decodeBody(text, false);

    expect(decoded.equals(Buffer.from(text, "utf8"))).toBe(true);
    expect(decoded.length).toBe(Buffer.byteLength(text));
  });

  it("returns no bytes for a missing body", () => {
    expect(decodeBody(undefined, true).length).toBe(0);
  });

  it("measures the decoded size of a base64 body without decoding it", () => {
    const bytes = Buffer.alloc(1001, 7);

    expect(decodedBodyLength(bytes.toString("base64"), true)).toBe(1001);
    expect(decodedBodyLength("é", false)).toBe(2);
  });
});

describe("headerValue", () => {
  it("finds a header whatever the case of its name", () => {
    const headers = { "Stripe-Signature": "t=1,v1=abc" };

    expect(headerValue(headers, "stripe-signature")).toBe("t=1,v1=abc");
    expect(headerValue(headers, "STRIPE-SIGNATURE")).toBe("t=1,v1=abc");
    expect(headerValue(headers, "content-type")).toBeUndefined();
  });
});

describe("isJsonContentType", () => {
  it.each([
    ["application/json", true],
    ["application/json; charset=utf-8", true],
    ["Application/JSON;charset=UTF-8", true],
    ["text/plain", false],
    ["application/x-www-form-urlencoded", false],
    ["application/jsonp", false],
    [undefined, false],
  ])("%s -> %s", (contentType, expected) => {
    expect(isJsonContentType(contentType)).toBe(expected);
  });
});

describe("readWebhookBody", () => {
  it("returns the raw bytes of a POSTed JSON body within the limit", () => {
    const body = readWebhookBody(request(), 100);

    expect(body.toString("utf8")).toBe('{"id":"evt_1"}');
  });

  it("refuses any method but POST", () => {
    const act = () => readWebhookBody(request({ method: "GET" }), 100);

    expect(act).toThrow(MethodNotAllowedError);
  });

  it("refuses a body that is not JSON before looking at its size", () => {
    const act = () => readWebhookBody(request({ headers: { "content-type": "text/plain" }, body: "x".repeat(500) }), 100);

    expect(act).toThrow(UnsupportedMediaTypeError);
  });

  it("refuses a request with no content type", () => {
    expect(() => readWebhookBody(request({ headers: {} }), 100)).toThrow(UnsupportedMediaTypeError);
  });

  it("refuses a body one byte over the limit, measured after base64 decoding", () => {
    // Prepare: 101 bytes whose base64 text is far longer than the 101-byte limit would allow raw.
    const body = Buffer.alloc(101, 1).toString("base64");

    // Act
    const act = () => readWebhookBody(request({ body, isBase64Encoded: true }), 100);

    // Assess
    expect(act).toThrow(PayloadTooLargeError);
    expect(readWebhookBody(request({ body: Buffer.alloc(100, 1).toString("base64"), isBase64Encoded: true }), 100).length).toBe(100);
  });
});
