/*
 * One readable line per request: the event's id and type, how the handler answered (its
 * outcome code and status), and the duration. The handler's JSON answer carries only the
 * outcome (`{"result": code}` or `{"error": code, "message": text}`), so id and type are read
 * from the event envelope; nothing else of the payload, and no header, is ever printed.
 */

export interface RequestSummary {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  /** The request body, for the envelope's id and type. */
  requestBody: Buffer;
  /** The response body when it is JSON, else undefined. */
  response: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

// Ids and types are short tokens; anything else is not shown (it could be arbitrary input).
const token = /^[A-Za-z0-9_.:-]{1,100}$/;

/** The envelope's `id` and `type`, when the body is a JSON object holding plausible ones. */
export function envelopeFacts(body: Buffer): { id?: string; type?: string } {
  if (body.length === 0 || body[0] !== "{".charCodeAt(0)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return {};
  }
  if (!isRecord(parsed)) return {};
  const id = text(parsed, "id");
  const type = text(parsed, "type");
  return {
    ...(id && token.test(id) ? { id } : {}),
    ...(type && token.test(type) ? { type } : {}),
  };
}

/** The JSON in a response body, or undefined for anything else. */
export function parseJsonBody(body: Buffer, contentType: string | undefined): unknown {
  if (!contentType?.includes("json") || body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** The outcome code and, for errors, the message of a handler's answer. */
export function describeResponse(response: unknown): { outcome?: string; message?: string } {
  if (!isRecord(response)) return {};
  const outcome = text(response, "result") ?? text(response, "error") ?? text(response, "outcome");
  const message = text(response, "message") ?? text(response, "Message");
  return {
    ...(outcome ? { outcome } : {}),
    // The handler's messages are short and payload-free; cap them anyway.
    ...(message ? { message: message.length > 120 ? `${message.slice(0, 117)}...` : message } : {}),
  };
}

/** e.g. `12:04:05 POST /stripe/webhook 200 evt_123 invoice.paid processed 14ms` */
export function formatRequestLine(summary: RequestSummary, now = new Date()): string {
  const { id, type } = envelopeFacts(summary.requestBody);
  const { outcome, message } = describeResponse(summary.response);
  const parts = [
    now.toTimeString().slice(0, 8),
    summary.method,
    summary.path,
    String(summary.status),
    id ?? "-",
    type ?? "-",
    outcome ?? (summary.status < 400 ? "ok" : "error"),
    `${Math.round(summary.durationMs)}ms`,
  ];
  if (message) parts.push(`(${message})`);
  return parts.join(" ");
}
