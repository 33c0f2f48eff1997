
/*
 * The metrics the functions emit (through Powertools Metrics, as CloudWatch EMF) and infra's
 * alarms and dashboard read: names in one dependency-free module so the two cannot drift.
 * Every metric is a count in the namespace below, with the service and the stage as its only
 * dimensions; each run is also counted under its outcome's code (`Outcome.processed`, ...). Kept
 * free of imports so that infra can read it without the SDKs.
 */

export const metricsNamespace = "StripeWebhooks";
export const metricsService = "stripe-webhooks";

export const metricNames = {
  /** Every webhook delivery answered. */
  deliveries: "Deliveries",
  /** A handler threw (any source): the event is recorded failed and retried. */
  handlerFailures: "HandlerFailures",
  /** A webhook delivery answered 5xx. */
  serverErrors: "ServerErrors",
  /** A delivery whose signature matched no secret, or was stale or missing. */
  invalidSignatures: "InvalidSignatures",
  /** An event the reconciler processed: the webhook had missed it. */
  eventsRecovered: "EventsRecovered",
  /** 1 when the reconciler found the stage's endpoint disabled by Stripe, else 0. */
  endpointDisabled: "EndpointDisabled",
  /** One per reconciler run that finished (complete or bounded). */
  reconcilerRuns: "ReconcilerRuns",
  /** A reconciler run that failed (misconfiguration, a bug): nothing resumes by itself. */
  reconcilerErrors: "ReconcilerErrors",
  /** A run Stripe's API or the ledger cut short; the next run resumes. */
  reconcilerInterrupted: "ReconcilerInterrupted",
  /** An event sent to the stage's queue (queued processing): the webhook or the reconciler answered for it. */
  eventsQueued: "EventsQueued",
  /** An event the queue consumer moved to the dead-letter queue after its receives ran out. */
  eventsDeadLettered: "EventsDeadLettered",
} as const;

/** One settled run, as metrics count it: how the event arrived and the outcome table's code and status. */
export interface OutcomeObservation {
  /** `webhook`, `reconciler` or `replay` (process-event.ts's `EventSource`). */
  source: string;
  code: string;
  statusCode: number;
}

export type MetricName = (typeof metricNames)[keyof typeof metricNames];

/** The prefix of the per-outcome counts: `Outcome.<code>`, the outcome table's code. */
export const outcomeMetricPrefix = "Outcome.";

/** The metric a run with this outcome code is counted under, e.g. `Outcome.handler_failed`. */
export function outcomeMetricName(code: string): string {
  return `${outcomeMetricPrefix}${code}`;
}

/**
 * The service-level counters one run's outcome adds (each by one), besides its
 * `outcomeMetricName`: what the alarms watch.
 */
export function countersFor(observation: OutcomeObservation): MetricName[] {
  const { source, code, statusCode } = observation;
  const counters: MetricName[] = [];
  if (source === "webhook") counters.push(metricNames.deliveries);
  if (code === "handler_failed") counters.push(metricNames.handlerFailures);
  if (source === "webhook" && statusCode >= 500) counters.push(metricNames.serverErrors);
  if (code === "invalid_signature") counters.push(metricNames.invalidSignatures);
  // In a queued stage a recovered event is one the reconciler sent to the queue.
  if (source === "reconciler" && (code === "processed" || code === "queued")) counters.push(metricNames.eventsRecovered);
  if (code === "queued") counters.push(metricNames.eventsQueued);
  return counters;
}
