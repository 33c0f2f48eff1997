import { MethodNotAllowedError, PayloadTooLargeError, UnsupportedMediaTypeError } from "./errors.ts";

/**
 * An HTTP request as the pipeline needs it, independent of what delivered it (a Lambda function
 * URL, the local receiver). `body` is exactly what the transport handed over: base64 text when
 * `isBase64Encoded`, otherwise the body itself.
 */
export interface WebhookRequest {
  method: string;
  headers: Readonly<Record<string, string | undefined>>;
  body: string | undefined;
  isBase64Encoded: boolean;
  /** The transport's request id, added to logs for correlation. */
  requestId?: string;
}

/**
 * A header's value by case-insensitive name. Function URLs lower-case header names, other
 * transports may not; HTTP says names are case-insensitive either way.
 */
export function headerValue(headers: WebhookRequest["headers"], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/**
 * The size in bytes of the body once decoded, computed without decoding it, so an oversized
 * body is refused before any copy is made.
 */
export function decodedBodyLength(body: string | undefined, isBase64Encoded: boolean): number {
  if (body === undefined) return 0;
  return Buffer.byteLength(body, isBase64Encoded ? "base64" : "utf8");
}

/**
 * The body as the exact bytes the sender signed. Base64 bodies are decoded to bytes rather than
 * to text, so the signature is checked on what Stripe sent and not on a re-encoding of it; a
 * text body is UTF-8, which is how Stripe encodes its JSON.
 */
export function decodeBody(body: string | undefined, isBase64Encoded: boolean): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return isBase64Encoded ? Buffer.from(body, "base64") : Buffer.from(body, "utf8");
}

/** True for `application/json`, with or without parameters such as `charset`. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(";", 1)[0]?.trim().toLowerCase();
  return mediaType === "application/json";
}

/**
 * Applies the transport-level bounds that need neither a secret nor the ledger: POST only, a
 * JSON content type, and a body no larger than `maxBodyBytes`. Returns the raw body bytes;
 * throws {@link MethodNotAllowedError}, {@link UnsupportedMediaTypeError} or
 * {@link PayloadTooLargeError}. Nothing here parses the body.
 */
export function readWebhookBody(request: WebhookRequest, maxBodyBytes: number): Buffer {
  if (request.method.toUpperCase() !== "POST") throw new MethodNotAllowedError(request.method);
  const contentType = headerValue(request.headers, "content-type");
  if (!isJsonContentType(contentType)) throw new UnsupportedMediaTypeError(contentType);
  const length = decodedBodyLength(request.body, request.isBase64Encoded);
  if (length > maxBodyBytes) throw new PayloadTooLargeError(length, maxBodyBytes);
  return decodeBody(request.body, request.isBase64Encoded);
}
