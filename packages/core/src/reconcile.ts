import type Stripe from "stripe";
import type { WebhookApp } from "./app.ts";
import { eventCatalog } from "./catalog.ts";
import { asStripeEvent } from "./envelope.ts";
import {
  HandlerFailedError,
  LedgerUnavailableError,
  QueueUnavailableError,
  LivemodeMismatchError,
  MalformedEventError,
  StripeUnavailableError,
  errorSummary,
} from "./errors.ts";
import { isLeaseLive, isSettled, type LedgerEntry } from "./ledger.ts";
import type { WebhookLogger } from "./logger.ts";
import type { ReconcilerState as StoredState } from "./reconcile-state.ts";
import { callStripe } from "./stripe-api.ts";

/*
 * The reconciler: nothing is lost even when webhooks are. Stripe keeps an account's events for
 * 30 days and lists them to its API key; an event fetched that way is authentic, so it needs no
 * signature and goes through the same `processEvent` path (ledger claim, handler, completion) as
 * a delivery. Whatever the webhook missed (Stripe gave up retrying, the endpoint was disabled or
 * replaced, a 2xx came from something other than the handler) is found and run here, once.
 *
 * Two listings, both from the later of the endpoint's creation (earlier events were never meant
 * for it) and Stripe's horizon, up to now minus a grace period (younger events are the
 * webhook's): every catalog event since the watermark (minus an overlap, for events Stripe
 * stamps late), and every catalog event Stripe itself could not deliver (`delivery_success=false`).
 * Settled events cost one read and no write; the rest are claimed like a delivery, so a webhook
 * racing the reconciler on one event still runs it once.
 */

/** How far back Stripe lists events, in seconds (30 days), minus a margin for clock differences. */
export const stripeEventHorizonSeconds = 30 * 86_400 - 3_600;

/** The reconciler's bounds and windows; the defaults suit a run every 15 minutes. */
export interface ReconcileSettings {
  /** Events younger than this are left to the webhook (Stripe delivers within seconds, retries within minutes). */
  graceSeconds: number;
  /** How far before the watermark each sweep starts again, for events whose `created` lags their listing. */
  overlapSeconds: number;
  /** At most this many events processed (not merely examined) per run. */
  maxEvents: number;
  /** A run stops starting new work after this long, leaving the rest to the next run. */
  maxDurationMs: number;
}

export const defaultReconcileSettings: ReconcileSettings = {
  graceSeconds: 300,
  overlapSeconds: 600,
  maxEvents: 500,
  maxDurationMs: 60_000,
};

/** What one run found and did. */
export interface ReconcileReport {
  endpoint: { id: string; status: string; created: number } | undefined;
  /** The `created` range the run looked at, epoch seconds. */
  window: { from: number; to: number };
  /** Catalog events listed (each counted once, whichever listing found it). */
  examined: number;
  /** Already processed or ignored in the ledger: skipped with a read. */
  settled: number;
  /** Missing from the ledger or failed there, and processed by this run: what webhooks missed. */
  recovered: number;
  /** Their handler failed again; recorded `failed`, tried again next run. */
  failed: number;
  /** Another delivery holds the event right now. */
  inProgress: number;
  /**
   * Listed, but not a Stripe event's envelope (see `asStripeEvent`): skipped with a warning,
   * never written to the ledger and never holding the watermark back.
   */
  malformed: number;
  /** The run ended before listing everything (bounds, or Stripe answering "later"). */
  stoppedBy: "max-events" | "max-duration" | "stripe-unavailable" | "ledger-unavailable" | "queue-unavailable" | undefined;
  /**
   * Events created before this are known examined and settled (or still findable as undelivered);
   * advanced only by a complete run, and never past an event that run left failed or in progress.
   */
  watermark: number | undefined;
}

/** What a run is built from; the Lambda entry and the local tool pass their own. */
export interface ReconcilerDependencies {
  stripe: Stripe;
  /** The stage's app: its ledger, where the run's state is kept too, and its processing. */
  app: WebhookApp;
  logger: WebhookLogger;
  /**
   * This stage's webhook endpoint (`we_...`): its creation bounds the window and its status is
   * reported. Undefined locally, where `stripe listen` has no endpoint: the horizon alone bounds it.
   */
  endpointId: string | undefined;
  /** During an API-version upgrade, the previous version's endpoint, still draining its retries. */
  drainingEndpointId?: string | undefined;
  now?: () => number;
  settings?: Partial<ReconcileSettings>;
}

/**
 * Runs one reconciliation: reads the stage's endpoint (its status and creation), lists the
 * catalog's events Stripe has in the window, and hands every one the ledger does not hold to the
 * stage's processing (`app.acceptEvent`, source `reconciler`: `processEvent` at once, or the
 * queue in a queued stage), at most once per run, within the run's bounds. A complete run advances the watermark stored in the ledger table, up to the oldest
 * event it could not settle; a bounded or interrupted one (Stripe's rate limit, a timeout, also
 * on the endpoint read) keeps it, so the next run resumes. Throws
 * `StripeMisconfiguredError` (a bad or under-permitted key) and `LivemodeMismatchError` (a key
 * of the other mode's events), which no later run would fix by itself.
 */
export async function reconcile(deps: ReconcilerDependencies): Promise<ReconcileReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const settings = { ...defaultReconcileSettings, ...deps.settings };
  const stage = deps.app.stage();
  const queued = stage.processing === "queued";
  const state = stage.reconcilerState<ReconcilerRun>(deps.endpointId ?? "local");

  let endpoint: ReconcileReport["endpoint"];
  let draining: ReconcileReport["endpoint"];
  let endpointUnavailable: StripeUnavailableError | undefined;
  try {
    endpoint = deps.endpointId ? await readEndpoint(deps.stripe, deps.endpointId) : undefined;
    draining = deps.drainingEndpointId ? await readEndpoint(deps.stripe, deps.drainingEndpointId) : undefined;
  } catch (error) {
    // The same "later" as a listing cut short: the next run resumes. Thrown, it would read as a
    // broken reconciler rather than a busy Stripe.
    if (!(error instanceof StripeUnavailableError)) throw error;
    endpointUnavailable = error;
  }
  for (const read of [endpoint, draining]) {
    if (read?.status !== "disabled") continue;
    deps.logger.error("Stripe has disabled this stage's webhook endpoint: no deliveries until it is re-enabled", {
      endpointId: read.id,
      runbook: "README.md#endpoint-disabled",
    });
  }
  const previous = await state.read();
  const nowSeconds = Math.floor(started / 1000);
  // During an API-version upgrade the draining endpoint is the older one: events since its
  // creation were meant for this stage too.
  const created = Math.min(endpoint?.created ?? Infinity, draining?.created ?? Infinity);
  const floor = Math.max(Number.isFinite(created) ? created : 0, nowSeconds - stripeEventHorizonSeconds);
  const to = nowSeconds - settings.graceSeconds;
  const from = Math.max(floor, previous?.watermark === undefined ? floor : previous.watermark - settings.overlapSeconds);
  const report: ReconcileReport = {
    endpoint,
    window: { from, to },
    examined: 0,
    settled: 0,
    recovered: 0,
    failed: 0,
    inProgress: 0,
    malformed: 0,
    stoppedBy: undefined,
    watermark: previous?.watermark,
  };
  const seen = new Set<string>();
  const types = [...eventCatalog];
  // The oldest event this run left failed or held by someone else. A complete run's watermark
  // stops there: an event Stripe counts as delivered (a 2xx from something other than the
  // handler) is only ever found again by a sweep that reaches back to it.
  let oldestUnsettled: number | undefined;
  const unsettled = (event: Stripe.Event): void => {
    oldestUnsettled = Math.min(oldestUnsettled ?? event.created, event.created);
  };

  async function consider(listed: Stripe.Event): Promise<boolean> {
    // Before the ledger is read with its id. Skipped, not a reason to stop: Stripe lists the same
    // event on every run, so stopping (or holding the watermark at it) would end every later
    // run there too, and no retry of the same bytes can succeed.
    let event: Stripe.Event;
    try {
      event = asStripeEvent(listed);
    } catch (error) {
      if (!(error instanceof MalformedEventError)) throw error;
      report.examined += 1;
      report.malformed += 1;
      deps.logger.warn("Stripe's API listed an event that is not a Stripe event; skipped", {
        source: "reconciler",
        reason: error.reason,
        value: error.value,
        error: errorSummary(error),
      });
      return true;
    }
    if (seen.has(event.id)) return true;
    seen.add(event.id);
    report.examined += 1;
    let entry: LedgerEntry | undefined;
    try {
      entry = await stage.ledger.get(event.id);
    } catch (error) {
      deps.logger.warn("The ledger could not be read; the next run resumes", { error: errorSummary(error) });
      report.stoppedBy = "ledger-unavailable";
      return false;
    }
    if (isSettled(entry)) {
      report.settled += 1;
      return true;
    }
    if (isLeaseLive(entry, now())) {
      report.inProgress += 1;
      unsettled(event);
      return true;
    }
    // A queued stage's queue holds what it has taken: a queued event waits its turn and a failed
    // one is retried (or dead-lettered) by the consumer; sending either again would only add a copy.
    if (entry?.status === "queued" || (entry?.status === "failed" && queued)) {
      if (entry.status === "queued") report.inProgress += 1;
      else report.failed += 1;
      unsettled(event);
      return true;
    }
    if (report.recovered + report.failed >= settings.maxEvents) {
      report.stoppedBy = "max-events";
      return false;
    }
    if (now() - started >= settings.maxDurationMs) {
      report.stoppedBy = "max-duration";
      return false;
    }
    const result = await deps.app.acceptEvent(event, "reconciler");
    if (result.ok) {
      const { kind } = result.outcome;
      if (kind === "processed" || kind === "queued") report.recovered += 1;
      else if (kind === "duplicate" || kind === "ignored") report.settled += 1;
      else {
        report.inProgress += 1;
        unsettled(event);
      }
      return true;
    }
    const { error } = result;
    if (error instanceof HandlerFailedError) {
      report.failed += 1;
      unsettled(event);
      return true;
    }
    // Every further event would end the same way: stop now, the next run starts over.
    if (error instanceof LivemodeMismatchError) throw error;
    if (error instanceof LedgerUnavailableError) {
      report.stoppedBy = "ledger-unavailable";
      return false;
    }
    // Nothing was recorded for the event, so the next run finds it missing and sends it again.
    if (error instanceof QueueUnavailableError) {
      report.stoppedBy = "queue-unavailable";
      return false;
    }
    throw error;
  }

  async function sweep(params: Stripe.EventListParams): Promise<boolean> {
    return callStripe("events.list", async () => {
      for await (const event of deps.stripe.events.list(params)) {
        if (!(await consider(event))) return false;
      }
      return true;
    });
  }

  if (endpointUnavailable) return interrupted(endpointUnavailable);

  let complete = false;
  try {
    const created = { gte: from, lte: to };
    const swept = to >= from && (await sweep({ types, created, limit: 100 }));
    const undelivered =
      swept && to >= floor && (await sweep({ types, created: { gte: floor, lte: to }, delivery_success: false, limit: 100 }));
    complete = swept && undelivered;
  } catch (error) {
    if (!(error instanceof StripeUnavailableError)) throw error;
    return interrupted(error);
  }
  if (complete) {
    const reached = Math.min(to, oldestUnsettled ?? to);
    report.watermark = Math.max(reached, previous?.watermark ?? reached);
  }
  await record(complete);
  return report;

  async function interrupted(error: StripeUnavailableError): Promise<ReconcileReport> {
    report.stoppedBy = "stripe-unavailable";
    deps.logger.warn("Stripe's API asked the reconciler to back off; the next run resumes", { error: errorSummary(error) });
    await record(false);
    return report;
  }

  async function record(advance: boolean): Promise<void> {
    const { endpoint: _endpoint, watermark, ...lastRun } = report;
    await state.write({ at: new Date(now()).toISOString(), lastRun, watermark, advance });
  }
}

async function readEndpoint(stripe: Stripe, id: string): Promise<NonNullable<ReconcileReport["endpoint"]>> {
  const endpoint = await callStripe("webhookEndpoints.retrieve", () => stripe.webhookEndpoints.retrieve(id));
  return { id: endpoint.id, status: endpoint.status, created: endpoint.created };
}

/** What a run records of itself in the reconciler's state: its report but the endpoint and the watermark. */
export type ReconcilerRun = Omit<ReconcileReport, "endpoint" | "watermark">;

/** The reconciler's stored state for an endpoint (see reconcile-state.ts). */
export type ReconcilerState = StoredState<ReconcilerRun>;
