import { describeOutcome } from "./outcomes.ts";
import type { EventResult } from "./process-event.ts";

/** A small HTTP answer, shaped like a function URL result. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The HTTP answer for a result, as the outcome table describes it: its status and headers, and a
 * small JSON body, `{"result": code}` on success or `{"error": code, "message": text}` otherwise.
 */
export function toHttpResponse(result: EventResult): HttpResponse {
  const { statusCode, code, message, headers } = describeOutcome(result);
  const body = statusCode < 300 ? { result: code } : { error: code, message };
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}
