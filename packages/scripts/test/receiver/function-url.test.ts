import { describe, expect, it } from "vitest";
import { isTextContentType, toFunctionUrlEvent, toHttpResponse, type HttpRequest } from "../../src/receiver/function-url.ts";

function request(overrides: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method: "POST",
    url: "/stripe/webhook",
    httpVersion: "1.1",
    rawHeaders: ["Host", "127.0.0.1:3000", "Content-Type", "application/json"],
    sourceIp: "127.0.0.1",
    body: Buffer.from('{"id":"evt_1"}'),
    receivedAt: new Date("2026-03-05T19:03:58.390Z"),
    requestId: "req-1",
    ...overrides,
  };
}

describe("toFunctionUrlEvent", () => {
  it("builds a payload format 2.0 event with path, query and request context", () => {
    const event = toFunctionUrlEvent(
      request({
        url: "/stripe/webhook?a=1&a=2&b=x%20y",
        rawHeaders: ["Host", "127.0.0.1:3000", "User-Agent", "Stripe/1.0", "Content-Type", "application/json"],
      }),
    );
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "$default",
      rawPath: "/stripe/webhook",
      rawQueryString: "a=1&a=2&b=x%20y",
      queryStringParameters: { a: "1,2", b: "x y" },
      isBase64Encoded: false,
      body: '{"id":"evt_1"}',
      requestContext: {
        http: { method: "POST", path: "/stripe/webhook", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "Stripe/1.0" },
        requestId: "req-1",
        time: "05/Mar/2026:19:03:58 +0000",
        timeEpoch: Date.parse("2026-03-05T19:03:58.390Z"),
      },
    });
  });

  it("lower-cases header names, joins repeated headers with commas and moves cookies out", () => {
    const event = toFunctionUrlEvent(
      request({
        rawHeaders: [
          "Host", "127.0.0.1:3000",
          "Content-Type", "application/json",
          "X-Custom", "one",
          "x-custom", "two",
          "Stripe-Signature", "t=1,v1=abc",
          "Cookie", "a=1; b=2",
        ],
      }),
    );
    expect(event.headers["x-custom"]).toBe("one,two");
    expect(event.headers["stripe-signature"]).toBe("t=1,v1=abc");
    expect(event.headers["content-type"]).toBe("application/json");
    expect(event.headers).not.toHaveProperty("Content-Type");
    expect(event.headers).not.toHaveProperty("cookie");
    expect(event.cookies).toEqual(["a=1", "b=2"]);
    expect(event.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(event.headers["x-forwarded-port"]).toBe("3000");
  });

  it("base64-encodes binary content types and keeps the exact bytes", () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7b]);
    const event = toFunctionUrlEvent(
      request({ rawHeaders: ["Content-Type", "application/octet-stream"], body: bytes }),
    );
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? "", "base64").equals(bytes)).toBe(true);
  });

  it("base64-encodes a body without a content type", () => {
    const event = toFunctionUrlEvent(request({ rawHeaders: [], body: Buffer.from("hello") }));
    expect(event).toMatchObject({ isBase64Encoded: true, body: Buffer.from("hello").toString("base64") });
  });

  it("base64-encodes a text content type whose body is not valid UTF-8", () => {
    const bytes = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const event = toFunctionUrlEvent(request({ body: bytes }));
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? "", "base64").equals(bytes)).toBe(true);
  });

  it("keeps UTF-8 text as a string, multi-byte characters included", () => {
    const body = '{"description":"Café ☕ 日本"}';
    const event = toFunctionUrlEvent(request({ body: Buffer.from(body) }));
    expect(event).toMatchObject({ isBase64Encoded: false, body });
  });

  it("omits the body when there is none", () => {
    const event = toFunctionUrlEvent(request({ method: "GET", body: Buffer.alloc(0) }));
    expect(event).not.toHaveProperty("body");
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext.http.method).toBe("GET");
  });
});

describe("isTextContentType", () => {
  it.each([
    ["application/json", true],
    ["application/json; charset=utf-8", true],
    ["Application/JSON", true],
    ["text/plain", true],
    ["text/html; charset=utf-8", true],
    ["application/vnd.api+json", true],
    ["application/soap+xml", true],
    ["application/xml", true],
    ["application/javascript", true],
    ["application/x-www-form-urlencoded", true],
    ["application/octet-stream", false],
    ["image/png", false],
    ["multipart/form-data; boundary=x", false],
    ["application/pdf", false],
    [undefined, false],
    ["", false],
  ])("%s -> %s", (contentType, text) => {
    expect(isTextContentType(contentType)).toBe(text);
  });
});

describe("toHttpResponse", () => {
  it("uses a structured result's status, headers and body", () => {
    const response = toHttpResponse({
      statusCode: 201,
      headers: { "Content-Type": "application/json", "X-Count": 3 },
      body: '{"ok":true}',
    });
    expect(response.statusCode).toBe(201);
    expect(response.headers).toEqual({ "content-type": "application/json", "x-count": "3" });
    expect(response.body.toString()).toBe('{"ok":true}');
  });

  it("decodes a base64 body and turns cookies into set-cookie headers", () => {
    const response = toHttpResponse({
      statusCode: 200,
      body: Buffer.from([1, 2, 3]).toString("base64"),
      isBase64Encoded: true,
      cookies: ["a=1; Max-Age=10", "b=2"],
    });
    expect([...response.body]).toEqual([1, 2, 3]);
    expect(response.headers["set-cookie"]).toEqual(["a=1; Max-Age=10", "b=2"]);
  });

  it("treats a result without statusCode as a JSON body with status 200, as Lambda does", () => {
    expect(toHttpResponse({ message: "hi" })).toMatchObject({ statusCode: 200, headers: { "content-type": "application/json" } });
    expect(toHttpResponse({ message: "hi" }).body.toString()).toBe('{"message":"hi"}');
    expect(toHttpResponse("Hello, world!").body.toString()).toBe('"Hello, world!"');
  });
});
