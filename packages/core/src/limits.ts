/*
 * The numbers the pipeline depends on, in one dependency-free module so infra can import them
 * (`@stripe-webhooks/core/limits`) without pulling the SDKs into `sst.config.ts`.
 */

/**
 * The webhook function's timeout, for infra to set on the Lambda function (and the local
 * receiver to imitate). Stripe does not publish how long it waits for an answer and retries a
 * delivery that takes too long anyway; a handler that needs more than a few seconds should
 * enqueue its work instead of doing it inline.
 */
export const handlerTimeoutSeconds = 10;

/**
 * How far the lease outlives the function timeout. Lambda stops an invocation at the timeout,
 * so a lease still held after it belongs to a crashed or timed-out run; the margin covers the
 * ledger's own write retries and clock differences between hosts. Stripe retries minutes apart,
 * so a longer lease costs nothing, while one shorter than the timeout could let two deliveries
 * run the same handler at once.
 */
export const leaseMarginSeconds = 50;

/** How long a claim on an event blocks other deliveries of it: the timeout plus the margin. */
export const leaseSeconds = handlerTimeoutSeconds + leaseMarginSeconds;

/**
 * The oldest signature timestamp accepted, in seconds: stripe-node's default
 * (`Stripe.webhooks.DEFAULT_TOLERANCE`, 300 s). Stages may raise it with
 * `STRIPE_WEBHOOK_TOLERANCE_SECONDS`.
 */
export const defaultToleranceSeconds = 300;

/**
 * How far in the future a signature timestamp may lie, in seconds. stripe-node only checks the
 * age, so a header stamped ahead of time would stay replayable for longer than the tolerance.
 * Stripe's and Lambda's clocks are NTP-synchronised to well under a second; 60 s also absorbs
 * the drift of a developer machine running the local receiver, and caps the replay window of
 * any signature at tolerance + 60 s.
 */
export const futureSkewSeconds = 60;

/**
 * The largest body accepted, in bytes (1 MiB). Stripe's events are a few kilobytes, and even a
 * heavy one (many subscription items, full metadata and `previous_attributes`) stays far below
 * this. A body above it is not an event Stripe would send, and a 413 is cheaper than hashing
 * it. It stays below the function URL's 6 MB limit so the answer is ours.
 */
export const maxBodyBytes = 1024 * 1024;

/**
 * How long the ledger remembers an event, in days, counted from its last write. Longer than
 * Stripe's live-mode retry window (3 days) and its 30-day window for resending events, so a
 * resent event is still recognised as a duplicate.
 */
export const ledgerRetentionDays = 35;

/**
 * The queue consumer's lease on an event, for a consumer function with a timeout of
 * `timeoutSeconds`: the timeout plus {@link leaseMarginSeconds}, as for the webhook. A FIFO batch
 * is processed one record at a time inside one invocation, so any record of it may still be
 * running when the invocation's timeout strikes; the lease is therefore derived from the whole
 * timeout, not from a share of it. Throws a RangeError for a timeout Lambda would not accept.
 */
export function consumerLeaseSeconds(timeoutSeconds: number): number {
  return lambdaTimeout(timeoutSeconds) + leaseMarginSeconds;
}

/**
 * The visibility timeout of the queue a consumer with a timeout of `timeoutSeconds` reads: six
 * times the timeout, AWS's guidance for a queue that is a Lambda event source (Lambda may retry
 * a throttled batch while its messages stay invisible). For a timeout above a fifth of
 * {@link leaseMarginSeconds} (every timeout the stage settings allow) it also outlives the
 * consumer's lease ({@link consumerLeaseSeconds}), so a message only becomes visible again once a
 * crashed run's claim has lapsed. Lambda's longest timeout (900 s) keeps it within SQS's 12-hour maximum.
 * Throws a RangeError for a timeout Lambda would not accept.
 */
export function queueVisibilityTimeoutSeconds(timeoutSeconds: number): number {
  return 6 * lambdaTimeout(timeoutSeconds);
}

// Lambda's bounds for a function timeout, in whole seconds.
function lambdaTimeout(timeoutSeconds: number): number {
  if (Number.isInteger(timeoutSeconds) && timeoutSeconds >= 1 && timeoutSeconds <= 900) return timeoutSeconds;
  throw new RangeError(`A Lambda timeout is a whole number of seconds from 1 to 900, not ${String(timeoutSeconds)}.`);
}

/**
 * The pace of Stripe requests (per second, reads and writes each) one consumer instance keeps:
 * the stage's budget for all its consumers divided by how many may run at once, so together they
 * stay within the budget whatever a request's latency. A process that serves several batches at
 * once through one client (the local receiver) paces that client at the whole budget instead.
 */
export function consumerRequestsPerSecond(budgetPerSecond: number, maxConcurrency: number): number {
  if (!(Number.isFinite(budgetPerSecond) && budgetPerSecond > 0)) {
    throw new RangeError(`A budget of Stripe requests is a positive number per second, not ${String(budgetPerSecond)}.`);
  }
  if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) {
    throw new RangeError(`A maximum concurrency is a whole number of at least 1, not ${String(maxConcurrency)}.`);
  }
  return budgetPerSecond / maxConcurrency;
}

/**
 * How far above the consumer's own `maxReceives` SQS's receive count moves a message to the
 * dead-letter queue. SQS also counts the receives that ran nothing (a rate-limit deferral, a
 * record returned unprocessed behind a failed one of its message group), so a backstop at
 * `maxReceives` would dead-letter events that never failed; this one only moves a message the
 * consumer could not count for itself (it fails to start, or times out).
 */
export const backstopReceivesAboveConsumer = 20;
