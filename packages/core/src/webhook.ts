import type Stripe from "stripe";
import type { HandlerRegistry } from "./dispatch.ts";
import { enqueueEvent, type QueueSender } from "./enqueue.ts";
import { toHttpResponse, type HttpResponse } from "./http.ts";
import type { Ledger } from "./ledger.ts";
import { maxBodyBytes } from "./limits.ts";
import type { WebhookLogger } from "./logger.ts";
import type { OutcomeObserver } from "./outcomes.ts";
import { processEvent, type EventTrace } from "./process-event.ts";
import { headerValue, readWebhookBody, type WebhookRequest } from "./request.ts";
import { runObserved } from "./run.ts";
import { resolveSettings, type WebhookConfig } from "./settings.ts";
import { verifyStripeEvent } from "./verify.ts";

/*
 * "Verify a delivery": the webhook's own steps (transport bounds, exact bytes, signature), after
 * which the event is an authentic one like any other and goes through `processEvent`.
 */

/** What a delivery is handled with; the composition root (`createWebhookApp`) builds it, tests inject their own. */
export interface WebhookDependencies {
  /**
   * The stage's settings and ledger, resolved inside the request's error handling: a missing
   * link or a bad variable then answers 500 and is logged instead of crashing at import.
   */
  settings: () => {
    config: WebhookConfig;
    ledger: Ledger;
    tableName?: string;
    stripeConfigured?: boolean;
    /** A queued stage's queue: a verified event is then sent there instead of processed inline. */
    queue?: QueueSender;
  };
  registry: HandlerRegistry;
  logger: WebhookLogger;
  /** Told every delivery's outcome (metrics). */
  observe?: OutcomeObserver;
  /** The Stripe client handlers get, created on their first use. */
  stripe?: () => Stripe;
  /** The current time in epoch milliseconds. */
  now?: () => number;
  maxBodyBytes?: number;
}

/**
 * Handles one webhook delivery end to end and answers it: transport bounds, the exact body
 * bytes, the signature against the stage's secrets, then {@link processEvent} with source
 * `webhook`. Never throws; every failure becomes a status through the outcome table, and every
 * request ends with one structured log line (request id, event id, type, source, outcome,
 * attempts, duration) that never holds the secret, the signature or the payload.
 */
export async function handleWebhook(request: WebhookRequest, deps: WebhookDependencies): Promise<HttpResponse> {
  const { description } = await runObserved(deps, "webhook", { requestId: request.requestId }, (trace) =>
    verifyAndProcess(request, deps, trace),
  );
  return toHttpResponse(description);
}

async function verifyAndProcess(request: WebhookRequest, deps: WebhookDependencies, trace: EventTrace) {
  const body = readWebhookBody(request, deps.maxBodyBytes ?? maxBodyBytes);
  const resolved = resolveSettings(deps.settings);
  const { config, ledger } = resolved;
  const event = verifyStripeEvent(body, headerValue(request.headers, "stripe-signature"), {
    secrets: config.secrets,
    toleranceSeconds: config.toleranceSeconds,
    futureSkewSeconds: config.futureSkewSeconds,
    now: deps.now,
    contentEncoding: headerValue(request.headers, "content-encoding"),
  });
  if (resolved.queue) return enqueueEvent(event, { mode: config.mode, ledger, queue: resolved.queue }, trace);
  const { tableName } = resolved;
  const processDeps = {
    mode: config.mode,
    ledger,
    tableName,
    registry: deps.registry,
    logger: deps.logger,
    stripe: deps.stripe,
    stripeConfigured: resolved.stripeConfigured ?? deps.stripe !== undefined,
  };
  return processEvent(event, "webhook", processDeps, trace);
}
