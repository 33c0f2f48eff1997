import { createHash } from "node:crypto";
import type Stripe from "stripe";
import { dispatch, isCatalogEvent, type HandlerContext, type HandlerRegistry } from "./dispatch.ts";
import { createEffectStager, InvalidEffectError } from "./effects.ts";
import { asStripeEvent } from "./envelope.ts";
import {
  ConfigurationError,
  EffectConditionFailedError,
  HandlerFailedError,
  LivemodeMismatchError,
  errorSummary,
  type StripeMode,
} from "./errors.ts";
import type { Contended, Ledger, LedgerEntry, LedgerEvent, ReleaseResult } from "./ledger.ts";
import { withAttributes, type WebhookLogger } from "./logger.ts";

/*
 * "Process an event": what happens to an authentic Stripe event, however it arrived. A webhook
 * delivery (verified by its signature), an event fetched from Stripe's API with the account's
 * key, and a replayed one all take this one path, so the ledger's claim decides which of them
 * runs the handler, and it runs once.
 */

/** How an authentic event reached the pipeline; the summary log line reports it. */
export type EventSource = "webhook" | "reconciler" | "replay" | "queue";

/** How processing an event ended, when it did not end in an error. Codes are the kinds, as is. */
export type ProcessOutcome =
  /** The handler ran and its result is recorded. */
  | { kind: "processed"; attempts: number }
  /**
   * The ledger already holds the event: processed or ignored (inline), or also queued or in
   * progress (a queued stage answers those from the ledger); nothing ran.
   */
  | { kind: "duplicate"; status: "processed" | "ignored" | "queued" | "processing"; attempts: number }
  /** Sent to the stage's queue and recorded `queued`; the consumer processes it. */
  | { kind: "queued"; attempts: number }
  /** The event's type is not in the catalog; recorded and acknowledged. */
  | { kind: "ignored"; attempts: number }
  /** Another delivery holds an unexpired lease on the event. */
  | { kind: "in_progress"; attempts: number | undefined }
  /** The handler ran, but its lease expired and a newer delivery took the event over first. */
  | { kind: "lease_lost"; attempts: number };

/** A run's result: an outcome, or the error that stopped it. */
export type EventResult = { ok: true; outcome: ProcessOutcome } | { ok: false; error: unknown };

/** What processing needs: the stage's mode, its ledger, the handlers and a logger. */
export interface ProcessDependencies {
  mode: StripeMode;
  ledger: Ledger;
  /**
   * The ledger table, where handlers' staged effects are written and whose app items they may read
   * (`HandlerContext.readItem`, through the ledger); without it, staging is refused and reads are not offered.
   */
  tableName?: string;
  registry: HandlerRegistry;
  logger: WebhookLogger;
  /** The Stripe client handlers get, created on their first use of it; without it, using it throws. */
  stripe?: () => Stripe;
  /** Whether `stripe` has a key to work with (see `HandlerContext.stripeConfigured`). */
  stripeConfigured?: boolean;
}

/** How an operator may override the ledger for one run. */
export interface ProcessOptions {
  /** Run the handler even if the event is already processed (a forced replay; recorded as such). */
  force?: boolean;
}

/** What the summary log line reports, filled in as processing progresses (also on failure). */
export interface EventTrace {
  eventId?: string;
  eventType?: string;
  attempts?: number;
}

/**
 * Processes one authentic event: refuses one that is not a Stripe event's envelope
 * (`MalformedEventError`, see `asStripeEvent`: only an `evt_` id ever addresses the ledger) and
 * one of the other Stripe mode ({@link LivemodeMismatchError}), records a type outside the
 * catalog as ignored, otherwise claims the event in the ledger, runs its handler and records the
 * result, fenced by the claim. A handler's exception records the event `failed` and surfaces as
 * {@link HandlerFailedError} so the sender (Stripe, or the reconciler) tries again; ledger
 * failures surface as `LedgerUnavailableError`, or `LedgerRejectedError` for a request DynamoDB
 * refused as invalid. With `options.force` a settled event is run again (never one whose
 * lease is live). `trace` receives the event's id, type and attempts as they become
 * known, so a caller's log line has them even when processing throws.
 */
export async function processEvent(
  input: Stripe.Event,
  source: EventSource,
  deps: ProcessDependencies,
  trace: EventTrace = {},
  options: ProcessOptions = {},
): Promise<ProcessOutcome> {
  const { event, facts } = admitEvent(input, deps.mode, trace);
  const { ledger } = deps;
  if (!isCatalogEvent(event)) {
    const ignored = await ledger.recordIgnored(facts);
    trace.attempts = ignored.entry?.attempts;
    return ignored.kind === "recorded" ? { kind: "ignored", attempts: ignored.entry.attempts } : settled(ignored);
  }

  const claim = await ledger.claim(facts, options.force ? { force: true } : undefined);
  trace.attempts = claim.entry?.attempts;
  if (claim.kind !== "claimed") return settled(claim);

  const attempts = claim.entry.attempts;
  const staged = createEffectStager(deps.tableName);
  const stripe = deps.stripe ?? noStripeClient;
  let outcome: string;
  try {
    const context: HandlerContext = {
      logger: withAttributes(deps.logger, { eventId: event.id, eventType: event.type, source }),
      attempt: attempts,
      get stripe() {
        return stripe();
      },
      stripeConfigured: deps.stripeConfigured ?? deps.stripe !== undefined,
      idempotencyKey: (purpose) => idempotencyKey(event.id, purpose),
      effects: staged.stager,
      ...(deps.tableName ? { readItem: (key) => ledger.readAppItem(key) } : {}),
    };
    ({ outcome } = await dispatch(deps.registry, event, context));
  } catch (error) {
    await recordFailure(ledger, deps.logger, claim.entry, error);
    throw new HandlerFailedError(event.id, event.type, error);
  }
  let recorded: ReleaseResult;
  try {
    recorded = await ledger.complete(claim.entry, outcome, staged.items());
  } catch (error) {
    if (!(error instanceof EffectConditionFailedError)) throw error;
    // Nothing was committed: the event is the handler's to try again, like any failure.
    await recordFailure(ledger, deps.logger, claim.entry, error);
    throw new HandlerFailedError(event.id, event.type, error);
  }
  return recorded === "recorded" ? { kind: "processed", attempts } : { kind: "lease_lost", attempts };
}

/**
 * The checks every event passes before the ledger, whichever way it arrived and whether it is
 * processed now or queued: a Stripe event's envelope (`asStripeEvent`; only an `evt_` id ever
 * addresses the ledger) of the stage's mode ({@link LivemodeMismatchError}). Fills the trace once
 * the id is known sane and returns the event with the facts the ledger records.
 */
export function admitEvent(input: Stripe.Event, mode: StripeMode, trace: EventTrace): { event: Stripe.Event; facts: LedgerEvent } {
  const event = asStripeEvent(input);
  trace.eventId = event.id;
  trace.eventType = event.type;
  if (event.livemode !== (mode === "live")) throw new LivemodeMismatchError(mode, event.livemode);
  const facts: LedgerEvent = {
    id: event.id,
    type: event.type,
    livemode: event.livemode,
    apiVersion: event.api_version,
    created: event.created,
    account: event.account,
  };
  return { event, facts };
}

function noStripeClient(): never {
  throw new ConfigurationError("Handlers have no Stripe API client here: set the StripeApiKey secret for this stage.");
}

/** Stripe's limit on an idempotency key's length. */
export const maxIdempotencyKeyLength = 255;

/**
 * The idempotency key for one Stripe call a handler makes for an event: `<event id>:<purpose>`,
 * the same however often the event is processed. A purpose that would push the key past Stripe's
 * 255 characters is replaced by its SHA-256, so the key stays stable and within the limit.
 */
export function idempotencyKey(eventId: string, purpose: string): string {
  if (purpose === "") throw new InvalidEffectError("An idempotency key needs a purpose, e.g. \"refund\".");
  const key = `${eventId}:${purpose}`;
  if (key.length <= maxIdempotencyKeyLength) return key;
  return `${eventId}:sha256:${createHash("sha256").update(purpose).digest("hex")}`;
}

function settled(contended: Contended): ProcessOutcome {
  if (contended.kind === "duplicate") {
    const status = contended.entry.status === "ignored" ? "ignored" : "processed";
    return { kind: "duplicate", status, attempts: contended.entry.attempts };
  }
  return { kind: "in_progress", attempts: contended.entry?.attempts };
}

// Records the handler's failure so the next delivery may claim the event. If even that write
// fails, the lease runs out instead; the handler's error stays the one that is answered.
async function recordFailure(ledger: Ledger, logger: WebhookLogger, claim: LedgerEntry, error: unknown): Promise<void> {
  try {
    await ledger.fail(claim, errorSummary(error));
  } catch (ledgerError) {
    logger.error("Could not record the handler failure; the event is retried once its lease expires", {
      eventId: claim.id,
      error: errorSummary(ledgerError),
    });
  }
}
