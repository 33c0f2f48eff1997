import type { WebhookLogger } from "@stripe-webhooks/core/logger";

/*
 * When each event was first processed, and how often, read from the summary lines the handlers
 * log. The webhook (inline) and the consumers (queued) run in different processes, so times are
 * on the clock both share: milliseconds since the epoch, at performance.now()'s resolution.
 */

export const clock = (): number => performance.timeOrigin + performance.now();

interface SummaryLine {
  eventId?: unknown;
  outcome?: unknown;
}

export interface ProcessedRecord {
  /** Event id → when it was first processed (see {@link clock}). */
  firstAt: [string, number][];
  /** Event id → how many runs processed it. */
  runs: [string, number][];
}

/** A logger that keeps only the processed summaries (handler lines are dropped; none hold payloads). */
export function processedRecorder() {
  const firstAt = new Map<string, number>();
  const runs = new Map<string, number>();
  const take = (_message: string, ...attributes: Record<string, unknown>[]) => {
    const line: SummaryLine = Object.assign({}, ...attributes);
    if (line.outcome !== "processed" || typeof line.eventId !== "string") return;
    runs.set(line.eventId, (runs.get(line.eventId) ?? 0) + 1);
    if (!firstAt.has(line.eventId)) firstAt.set(line.eventId, clock());
  };
  const logger: WebhookLogger = { info: take, warn: take, error: take };
  return {
    logger,
    count: () => firstAt.size,
    record: (): ProcessedRecord => ({ firstAt: [...firstAt], runs: [...runs] }),
  };
}

/** Several processes' records as one: the earliest time, and the runs summed. */
export function mergeProcessed(records: ProcessedRecord[]): { firstAt: Map<string, number>; runs: Map<string, number> } {
  const firstAt = new Map<string, number>();
  const runs = new Map<string, number>();
  for (const record of records) {
    for (const [id, at] of record.firstAt) firstAt.set(id, Math.min(at, firstAt.get(id) ?? at));
    for (const [id, count] of record.runs) runs.set(id, (runs.get(id) ?? 0) + count);
  }
  return { firstAt, runs };
}
