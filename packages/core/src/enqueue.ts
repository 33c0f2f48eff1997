import type Stripe from "stripe";
import { isCatalogEvent } from "./dispatch.ts";
import { QueueUnavailableError, type StripeMode } from "./errors.ts";
import type { Ledger, LedgerEntry } from "./ledger.ts";
import { admitEvent, type EventTrace, type ProcessOutcome } from "./process-event.ts";
import { encodeQueueMessage, type EncodedQueueMessage } from "./queue-message.ts";

/*
 * "Accept an event for later": the queued stage's first half. The event is checked exactly as
 * processEvent checks it, sent to the stage's SQS FIFO queue, and recorded `queued`; the consumer
 * then takes it through processEvent at the pace the handlers and Stripe's API can bear.
 *
 * The send comes before the ledger write, so the ledger never says `queued` for a message that is
 * not in the queue: a send that fails writes nothing and answers 5xx, and the sender's retry sends
 * again. A crash between the two leaves the message queued and the ledger unaware, which the
 * consumer's claim repairs. A duplicate delivery reads the ledger first and sends nothing for an
 * event it already holds; two deliveries racing past that read send twice, which SQS's
 * deduplication (the event id, five minutes) and, beyond it, the consumer's claim absorb.
 */

/** Sends one message to the stage's queue; throws when the queue did not take it. */
export interface QueueSender {
  send(message: EncodedQueueMessage): Promise<void>;
}

/** What accepting an event needs: the stage's mode, its ledger and its queue. */
export interface EnqueueDependencies {
  mode: StripeMode;
  ledger: Ledger;
  queue: QueueSender;
}

/**
 * Accepts an authentic event for queued processing: refuses what processEvent refuses (a
 * malformed envelope, the other Stripe mode), records a type outside the catalog as ignored
 * without queuing it, answers an event the ledger already holds (queued, in progress, settled)
 * from the ledger, and otherwise sends it to the queue and records it `queued`. A failed event is
 * sent again: a sender retrying it means to have it run. Throws {@link QueueUnavailableError}
 * when the queue refuses the message, with nothing recorded.
 */
export async function enqueueEvent(input: Stripe.Event, deps: EnqueueDependencies, trace: EventTrace = {}): Promise<ProcessOutcome> {
  const { event, facts } = admitEvent(input, deps.mode, trace);
  const { ledger } = deps;
  if (!isCatalogEvent(event)) {
    const ignored = await ledger.recordIgnored(facts);
    trace.attempts = ignored.entry?.attempts;
    return ignored.kind === "recorded" ? { kind: "ignored", attempts: ignored.entry.attempts } : held(ignored.entry);
  }
  const existing = await ledger.get(event.id);
  if (existing && existing.status !== "failed") {
    trace.attempts = existing.attempts;
    return held(existing);
  }
  try {
    await deps.queue.send(encodeQueueMessage(event));
  } catch (error) {
    throw new QueueUnavailableError(error);
  }
  const recorded = await ledger.recordQueued(facts);
  trace.attempts = recorded.entry?.attempts;
  return recorded.kind === "recorded" ? { kind: "queued", attempts: recorded.entry.attempts } : held(recorded.entry);
}

// The ledger holds the event already: whatever it is doing with it, this delivery adds nothing.
function held(entry: LedgerEntry | undefined): ProcessOutcome {
  const status = entry?.status ?? "processing";
  return { kind: "duplicate", status: status === "failed" ? "queued" : status, attempts: entry?.attempts ?? 0 };
}
