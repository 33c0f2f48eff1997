import type { OutcomeDescription } from "./outcomes.ts";

/** A small HTTP answer, shaped like a function URL result. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The HTTP answer for a result the outcome table described (`describeOutcome`, or the run that
 * logged it): its status and headers, and a small JSON body, `{"result": code}` on success or
 * `{"error": code, "message": text}` otherwise.
 */
export function toHttpResponse(description: OutcomeDescription): HttpResponse {
  const { statusCode, code, message, headers } = description;
  const body = statusCode < 300 ? { result: code } : { error: code, message };
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}
