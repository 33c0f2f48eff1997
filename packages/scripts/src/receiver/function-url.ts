import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import type { LambdaFunctionURLEvent } from "aws-lambda";

/*
 * Translates between plain HTTP and what a Lambda function URL hands to its function
 * (payload format 2.0), so the local receiver can run the deployed handler unchanged.
 */

/** The request as the local HTTP server received it. */
export interface HttpRequest {
  method: string;
  /** The request target as sent: path plus optional `?query`, still percent-encoded. */
  url: string;
  httpVersion: string;
  /** Node's `rawHeaders`: name, value, name, value... in arrival order. */
  rawHeaders: readonly string[];
  sourceIp: string;
  body: Buffer;
  /** Defaults to now; fixed in tests. */
  receivedAt?: Date;
  requestId?: string;
}

/** The HTTP response to write back. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Lambda refuses invocation payloads over 6 MB; so does the local receiver. */
export const maxRequestBytes = 6 * 1024 * 1024;

const textMediaTypes = new Set([
  "application/json",
  "application/javascript",
  "application/ecmascript",
  "application/xml",
  "application/x-www-form-urlencoded",
  "application/graphql",
  "application/x-ndjson",
]);

/**
 * Whether a function URL passes a body of this content type as a plain string. Lambda documents
 * only that a "binary" content type arrives base64-encoded; text is `text/*` and the textual
 * `application/*` types (JSON, XML, JavaScript, form data, and `+json`/`+xml` suffixes). No
 * content type at all counts as binary.
 */
export function isTextContentType(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  if (!mediaType) return false;
  return (
    mediaType.startsWith("text/") ||
    textMediaTypes.has(mediaType) ||
    mediaType.endsWith("+json") ||
    mediaType.endsWith("+xml")
  );
}

/** Lambda's `requestContext.time` format: `12/Mar/2020:19:03:58 +0000`. */
function formatRequestTime(date: Date): string {
  const [, day, month, year, time] = date.toUTCString().replace(",", "").split(" ");
  return `${day}/${month}/${year}:${time} +0000`;
}

/** Header names lower-cased, repeated headers joined with commas (as function URLs do). */
function joinHeaders(rawHeaders: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? "").toLowerCase();
    const value = rawHeaders[i + 1] ?? "";
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous},${value}`;
  }
  return headers;
}

function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (!rawQueryString) return undefined;
  const parameters: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    const previous = parameters[key];
    parameters[key] = previous === undefined ? value : `${previous},${value}`;
  }
  return parameters;
}

/** The function URL event Lambda would build for this request. */
export function toFunctionUrlEvent(request: HttpRequest): LambdaFunctionURLEvent {
  const receivedAt = request.receivedAt ?? new Date();
  const queryStart = request.url.indexOf("?");
  const rawPath = queryStart === -1 ? request.url : request.url.slice(0, queryStart);
  const rawQueryString = queryStart === -1 ? "" : request.url.slice(queryStart + 1);

  const headers = joinHeaders(request.rawHeaders);
  // Function URLs move cookies out of the headers into their own array.
  const cookieHeader = headers.cookie;
  delete headers.cookie;
  const cookies = cookieHeader
    ?.split(";")
    .map((cookie) => cookie.trim())
    .filter((cookie) => cookie !== "");
  // What Lambda's front end adds; the client's own x-forwarded-for is kept in front.
  headers["x-forwarded-for"] = headers["x-forwarded-for"]
    ? `${headers["x-forwarded-for"]}, ${request.sourceIp}`
    : request.sourceIp;
  headers["x-forwarded-proto"] = "http";

  const host = headers.host ?? "127.0.0.1";
  const [port] = host.split(":").slice(1);
  headers["x-forwarded-port"] = port ?? "80";

  const hasBody = request.body.length > 0;
  const asText = hasBody && isTextContentType(headers["content-type"]) && isUtf8(request.body);
  const queryStringParameters = queryParameters(rawQueryString);

  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    ...(cookies && cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: "anonymous",
      apiId: "local",
      domainName: host,
      domainPrefix: host.split(".")[0] ?? host,
      http: {
        method: request.method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.sourceIp,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: request.requestId ?? randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: formatRequestTime(receivedAt),
      timeEpoch: receivedAt.getTime(),
    },
    ...(hasBody ? { body: request.body.toString(asText ? "utf8" : "base64") } : {}),
    isBase64Encoded: hasBody && !asText,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The HTTP response Lambda makes of a function's result: a result with a `statusCode` is used
 * as is (headers, `cookies` as `set-cookie`, base64 body decoded); anything else is taken as
 * a JSON body with status 200.
 */
export function toHttpResponse(result: unknown): HttpResponse {
  if (!isRecord(result) || typeof result.statusCode !== "number") {
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: Buffer.from(JSON.stringify(result) ?? ""),
    };
  }

  const headers: Record<string, string | string[]> = {};
  if (isRecord(result.headers)) {
    for (const [name, value] of Object.entries(result.headers)) {
      if (value !== undefined && value !== null) headers[name.toLowerCase()] = String(value);
    }
  }
  if (Array.isArray(result.cookies) && result.cookies.length > 0) {
    headers["set-cookie"] = result.cookies.map(String);
  }
  const body = typeof result.body === "string" ? result.body : "";
  return {
    statusCode: result.statusCode,
    headers,
    body: Buffer.from(body, result.isBase64Encoded === true ? "base64" : "utf8"),
  };
}

/** What a function URL answers when the function throws or times out. */
export function invocationErrorResponse(): HttpResponse {
  return {
    statusCode: 502,
    headers: { "content-type": "application/json" },
    body: Buffer.from(JSON.stringify({ Message: "Internal Server Error" })),
  };
}
