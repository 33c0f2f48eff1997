import type Stripe from "stripe";
import type { WebhookApp } from "./app.ts";
import { asStripeEvent } from "./envelope.ts";
import { MalformedEventError } from "./errors.ts";
import { isSettled, type LedgerEntry } from "./ledger.ts";
import type { EventResult } from "./process-event.ts";
import { callStripe } from "./stripe-api.ts";

/** How a replay ended: refused because the event is settled, or run through `processEvent`. */
export type ReplayResult =
  | { kind: "refused"; reason: "already-settled"; entry: LedgerEntry }
  | { kind: "ran"; forced: boolean; result: EventResult };

/** What a replay needs; the local tool passes its own. */
export interface ReplayDependencies {
  stripe: Stripe;
  /** The stage's app, whose ledger says whether the event is settled. */
  app: WebhookApp;
}

/**
 * Replays one event by id: fetches it from Stripe's API (authentic, so no signature) and runs it
 * through `processEvent` with source `replay`. A failed or missing event is processed as any
 * delivery would be; a processed or ignored one is refused unless `force` is set, in which case
 * it runs again and the ledger records the run as forced. One that is not a Stripe event's
 * envelope runs into processEvent's refusal (`malformed_event`) without the ledger being read.
 * Stripe's errors surface as `StripeCallError`s (an unknown id is a `StripeRequestRefusedError`).
 */
export async function replayEvent(
  deps: ReplayDependencies,
  eventId: string,
  options: { force?: boolean } = {},
): Promise<ReplayResult> {
  const event = await callStripe("events.retrieve", () => deps.stripe.events.retrieve(eventId));
  // An event that is not a Stripe event's envelope must not address the ledger, not even to be
  // read: it goes straight to processEvent, which refuses it and logs why.
  if (!hasValidEnvelope(event)) return { kind: "ran", forced: false, result: await deps.app.processEvent(event, "replay") };
  const force = options.force ?? false;
  const entry = await deps.app.stage().ledger.get(event.id);
  const settled = isSettled(entry);
  if (settled && !force) return { kind: "refused", reason: "already-settled", entry };
  const result = await deps.app.processEvent(event, "replay", { force: settled && force });
  return { kind: "ran", forced: settled && force, result };
}

function hasValidEnvelope(event: Stripe.Event): boolean {
  try {
    asStripeEvent(event);
    return true;
  } catch (error) {
    if (error instanceof MalformedEventError) return false;
    throw error;
  }
}
