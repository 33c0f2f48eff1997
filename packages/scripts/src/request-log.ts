/*
 * One readable line per request. Its facts come from the handler's small JSON response (the
 * event id, type and outcome it reports), never from the request: no payload and no
 * signature header is ever printed.
 */

export interface RequestSummary {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  /** The response body when it is JSON, else undefined. */
  response: unknown;
}

function field(record: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = record[name];
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
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

/** The facts a handler response states about the event it handled. */
export function describeResponse(response: unknown): { id?: string; type?: string; outcome?: string; error?: string } {
  if (typeof response !== "object" || response === null) return {};
  const record = response as Record<string, unknown>;
  const error = field(record, ["error", "message", "Message"]);
  return {
    id: field(record, ["eventId", "id"]),
    type: field(record, ["type", "eventType"]),
    outcome: field(record, ["outcome", "result", "status"]),
    // Handler error messages are short and payload-free; cap them anyway.
    ...(error ? { error: error.length > 120 ? `${error.slice(0, 117)}...` : error } : {}),
  };
}

/** e.g. `12:04:05 POST /stripe/webhook 200 evt_123 invoice.paid processed 14ms` */
export function formatRequestLine(summary: RequestSummary, now = new Date()): string {
  const facts = describeResponse(summary.response);
  const outcome = facts.outcome ?? (summary.status < 400 ? "ok" : "rejected");
  const parts = [
    now.toTimeString().slice(0, 8),
    summary.method,
    summary.path,
    String(summary.status),
    facts.id ?? "-",
    facts.type ?? "-",
    outcome,
    `${Math.round(summary.durationMs)}ms`,
  ];
  if (facts.error && facts.error !== outcome) parts.push(`(${facts.error})`);
  return parts.join(" ");
}
