import Stripe from "stripe";
import type { WebhookApp } from "./app.ts";
import {
  HandlerFailedError,
  LedgerRejectedError,
  LedgerUnavailableError,
  MalformedEventError,
  StripeCallError,
  errorSummary,
} from "./errors.ts";
import type { WebhookLogger } from "./logger.ts";
import { decodeQueueMessage, MalformedQueueMessageError } from "./queue-message.ts";
import { classifyStripeError } from "./stripe-api.ts";

/*
 * "Process what the queue holds": one SQS record's fate, decided here and carried out by the
 * Lambda adapter (packages/functions) or the local receiver's stand-in driving the same adapter.
 * The event goes through the app's processEvent like every other source; what this module adds is
 * what a queue needs on top: when to let a record go, when to put it back and for how long, and
 * when to give up on it.
 *
 * Stripe asking to back off (a 429, a 5xx, an unreachable host) is the queue doing its job, not a
 * failing event: such a run is put back with a growing delay and counted as a deferral, which the
 * dead-letter count leaves out. A handler that fails for any other reason is put back with a
 * growing delay too, and after `maxReceives` such runs the record goes to the dead-letter queue.
 */

/** One queue record as the consumer needs it. */
export interface QueueRecord {
  body: string;
  /** SQS's ApproximateReceiveCount: this receive included. */
  receiveCount: number;
}

/** What to do with a record after its run. */
export type QueueDecision =
  /** Settled (processed, a duplicate, ignored, or settled by a newer run): delete the record. */
  | { kind: "done" }
  /** Put the record back, visible again after `delaySeconds`; `counted` when the run failed. */
  | { kind: "retry"; delaySeconds: number; counted: boolean; reason: string }
  /** Give up: move the record to the dead-letter queue and delete it from the queue. */
  | { kind: "dead_letter"; reason: string };

export interface ConsumerSettings {
  /** Failed runs (deferrals not counted) after which a record is dead-lettered. */
  maxReceives: number;
  /** How long another run's claim can block the event: a record finding it in progress waits this long. */
  leaseSeconds: number;
  /** The first retry's delay; each later one doubles, up to {@link maxRetryDelaySeconds}. */
  baseDelaySeconds?: number;
  /** In [0, 1): spreads retries that would otherwise come back together. */
  random?: () => number;
}

/** SQS's ceiling for a visibility change is 12 hours; retries come back well before Stripe's 30-day horizon. */
export const maxRetryDelaySeconds = 15 * 60;

/**
 * Runs one queue record through the app and decides its fate: a body that is not one the webhook
 * writes is dead-lettered at once (no retry can read it); a reference is fetched from Stripe's
 * Events API first; the event then takes `app.processEvent` with source `queue`. A settled result
 * is `done`; another run holding the event's lease, Stripe asking to back off, or the ledger
 * unavailable is an uncounted `retry`; a failed run is a counted `retry`, or `dead_letter` once
 * the event has failed `maxReceives` times (receives minus the ledger's deferrals).
 */
export async function consumeQueueRecord(
  record: QueueRecord,
  app: WebhookApp,
  logger: WebhookLogger,
  settings: ConsumerSettings,
): Promise<QueueDecision> {
  const random = settings.random ?? Math.random;
  const backoff = (attempt: number) => {
    const base = settings.baseDelaySeconds ?? 2;
    const ceiling = Math.min(maxRetryDelaySeconds, base * 2 ** Math.max(0, attempt - 1));
    return Math.max(1, Math.round(ceiling * (0.5 + random() / 2)));
  };

  let decoded;
  try {
    decoded = decodeQueueMessage(record.body);
  } catch (error) {
    if (!(error instanceof MalformedQueueMessageError)) throw error;
    logger.error("Queue message unreadable; dead-lettered", { reason: error.reason, error: error.message });
    return { kind: "dead_letter", reason: error.message };
  }

  let event: Stripe.Event;
  if (decoded.kind === "event") {
    event = decoded.event;
  } else {
    const { id, account } = decoded.reference;
    try {
      event = await app.retrieveEvent(id, account);
    } catch (error) {
      const kind = classifyStripeError(error).kind;
      const deferred = kind === "retry-later" || kind === "unreachable";
      logger.warn("Could not fetch a queued event from Stripe", { eventId: id, kind, receiveCount: record.receiveCount });
      if (deferred) return { kind: "retry", delaySeconds: backoff(record.receiveCount), counted: false, reason: kind };
      if (record.receiveCount >= settings.maxReceives) return { kind: "dead_letter", reason: `fetch failed: ${kind}` };
      return { kind: "retry", delaySeconds: backoff(record.receiveCount), counted: true, reason: `fetch failed: ${kind}` };
    }
  }

  const result = await app.processEvent(event, "queue");
  if (result.ok) {
    if (result.outcome.kind !== "in_progress") return { kind: "done" };
    // A run whose visibility expired is still at work: this copy waits for its lease, uncounted.
    await deferral(app, event.id);
    return { kind: "retry", delaySeconds: settings.leaseSeconds, counted: false, reason: "in_progress" };
  }
  const { error } = result;
  if (error instanceof MalformedEventError) return { kind: "dead_letter", reason: error.message };
  if (error instanceof LedgerUnavailableError) {
    return { kind: "retry", delaySeconds: backoff(record.receiveCount), counted: false, reason: "ledger_unavailable" };
  }
  if (error instanceof HandlerFailedError && isBackOff(error)) {
    const deferrals = await deferral(app, event.id);
    return { kind: "retry", delaySeconds: backoff(deferrals), counted: false, reason: "stripe_back_off" };
  }
  // A failure that will repeat (a handler's bug, a misconfiguration, a rejected ledger request):
  // counted, so the record reaches the dead-letter queue instead of blocking its customer forever.
  const entry = await app.stage().ledger.get(event.id).catch(() => undefined);
  const failures = record.receiveCount - (entry?.deferrals ?? 0);
  const reason = error instanceof LedgerRejectedError ? "ledger_rejected" : errorSummary(error, 200);
  if (failures >= settings.maxReceives) {
    await app
      .stage()
      .ledger.recordDeadLettered(event.id)
      .catch((ledgerError: unknown) => logger.error("Could not mark the event dead-lettered", { eventId: event.id, error: errorSummary(ledgerError) }));
    return { kind: "dead_letter", reason };
  }
  return { kind: "retry", delaySeconds: backoff(failures), counted: true, reason };
}

/**
 * Records a record that was received but not run, because it waited behind a failed record of
 * its message group, as a deferral of its event: SQS counted the receive, and without this the
 * event's first failure of its own could dead-letter it (`consumeQueueRecord` counts receives
 * minus deferrals). A body that cannot be read is left alone; its own run dead-letters it.
 */
export async function deferSkippedRecord(record: Pick<QueueRecord, "body">, app: WebhookApp): Promise<void> {
  let eventId: string;
  try {
    const decoded = decodeQueueMessage(record.body);
    eventId = decoded.kind === "event" ? decoded.event.id : decoded.reference.id;
  } catch (error) {
    if (error instanceof MalformedQueueMessageError) return;
    throw error;
  }
  await deferral(app, eventId);
}

/** Counts a deferral in the ledger and returns the event's deferrals so far (1 when the count could not be read). */
async function deferral(app: WebhookApp, eventId: string): Promise<number> {
  const { ledger } = app.stage();
  try {
    return (await ledger.recordDeferral(eventId)) ?? 1;
  } catch {
    // Without the count the record still comes back; only its dead-letter count may be one high.
    return 1;
  }
}

/** Whether a handler failed because Stripe's API asked to back off or could not be reached. */
function isBackOff(error: HandlerFailedError): boolean {
  const cause: unknown = error.cause instanceof StripeCallError ? error.cause.cause : error.cause;
  if (!(cause instanceof Stripe.errors.StripeError)) return false;
  const kind = classifyStripeError(cause).kind;
  return kind === "retry-later" || kind === "unreachable";
}
