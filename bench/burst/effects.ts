import { readFileSync } from "node:fs";

/*
 * Side effects, counted from the handler's JSON log lines: a line that names an event
 * (`eventId`) and is not the per-request summary (the line that carries `outcome`) was written
 * by the code that acts on the event, once per time it ran. Ours' example handlers and the
 * Powertools baseline's idempotent function both log exactly one such line per run.
 */

/** How many times the work ran, per event id. */
export function effectsByEvent(logFile: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof entry !== "object" || entry === null || "outcome" in entry) continue;
    const eventId = (entry as { eventId?: unknown }).eventId;
    if (typeof eventId === "string") counts.set(eventId, (counts.get(eventId) ?? 0) + 1);
  }
  return counts;
}
