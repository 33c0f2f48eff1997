import type { WebhookLogger } from "./logger.ts";
import { logOutcome, type OutcomeDescription, type OutcomeObserver } from "./outcomes.ts";
import type { EventResult, EventSource, EventTrace, ProcessOutcome } from "./process-event.ts";

/*
 * The one wrapper every entry runs an event in, a delivery or any other source: the clock, the
 * trace, the result, the one summary line, the observation. The outcome is described once here
 * and handed back, so the HTTP answer and the log line come from the same description.
 */

/** What a run is observed with. */
export interface RunObservers {
  logger: WebhookLogger;
  observe?: OutcomeObserver;
  /** The current time in epoch milliseconds. */
  now?: () => number;
}

/**
 * Runs `work` for one event from `source` and never throws: an error becomes the result, the
 * summary line is logged at the outcome table's level with `attributes` (a request id, `forced`),
 * the event's id, type and attempts as the trace holds them, the outcome and the duration, and
 * the observer is told the outcome. Returns the result and its description.
 */
export async function runObserved(
  observers: RunObservers,
  source: EventSource,
  attributes: Record<string, unknown>,
  work: (trace: EventTrace) => Promise<ProcessOutcome>,
): Promise<{ result: EventResult; description: OutcomeDescription }> {
  const now = observers.now ?? Date.now;
  const started = now();
  const trace: EventTrace = {};
  let result: EventResult;
  try {
    result = { ok: true, outcome: await work(trace) };
  } catch (error) {
    result = { ok: false, error };
  }
  const description = logOutcome(observers.logger, result, {
    ...attributes,
    eventId: trace.eventId,
    eventType: trace.eventType,
    source,
    attempts: trace.attempts,
    durationMs: now() - started,
  });
  observers.observe?.({ source, code: description.code, statusCode: description.statusCode });
  return { result, description };
}
