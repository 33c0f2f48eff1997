import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { MetricUnit, type Metrics } from "@aws-lambda-powertools/metrics";
import { createWebhookApp } from "@stripe-webhooks/core/app";
import type { HandlerRegistry } from "@stripe-webhooks/core/dispatch";
import { errorSummary, type StripeMode } from "@stripe-webhooks/core/errors";
import type { WebhookLogger } from "@stripe-webhooks/core/logger";
import { metricNames } from "@stripe-webhooks/core/metrics";
import { reconcile, type ReconcileReport, type ReconcileSettings } from "@stripe-webhooks/core/reconcile";
import { createStripeClient } from "@stripe-webhooks/core/stripe-api";
import type { QueueSender } from "@stripe-webhooks/core/enqueue";
import { loadStripeMode } from "@stripe-webhooks/core/settings";
import { observeInto } from "./metrics.ts";

/** The reconciler's settings as its environment holds them. */
export interface ReconcilerSettings {
  apiKey: string;
  /** `STRIPE_API_BASE`: stripe-mock or a double, instead of api.stripe.com. */
  apiBase?: string | undefined;
  endpointId: string | undefined;
  drainingEndpointId?: string | undefined;
  tableName: string;
  mode: string | undefined;
  /** `PROCESSING_MODE`: in a queued stage what the reconciler recovers goes to the queue. */
  processing?: string | undefined;
  reconcile?: Partial<ReconcileSettings>;
}

export interface ReconcileHandlerDependencies {
  dynamo: DynamoDBClient;
  settings: () => ReconcilerSettings;
  registry: HandlerRegistry;
  logger: WebhookLogger;
  metrics: Metrics;
  now?: () => number;
  /** The stage's queue, for a queued stage. */
  queue?: QueueSender;
}

/**
 * The scheduled reconciler as a Lambda handler: one run per invocation over the stage's ledger,
 * its report logged and counted (runs, recovered events through the outcome observer, endpoint
 * disabled, interruptions). A run Stripe or the ledger cut short is not an error (the next run
 * resumes); a misconfiguration or a bug is counted as a reconciler error and rethrown, so the
 * invocation fails visibly.
 */
export function createReconcileHandler(deps: ReconcileHandlerDependencies): () => Promise<ReconcileReport> {
  let built: { run: () => Promise<ReconcileReport>; mode: StripeMode } | undefined;

  function build() {
    const settings = deps.settings();
    const mode = loadStripeMode(settings.mode);
    const stripe = createStripeClient({
      apiKey: settings.apiKey,
      expectedMode: mode,
      ...(settings.apiBase ? { apiBase: settings.apiBase } : {}),
    });
    const app = createWebhookApp({
      dynamo: deps.dynamo,
      settings: () => ({ tableName: settings.tableName, mode: settings.mode, processing: settings.processing }),
      ...(deps.queue ? { queue: deps.queue } : {}),
      registry: deps.registry,
      logger: deps.logger,
      observe: observeInto(deps.metrics),
      ...(deps.now ? { now: deps.now } : {}),
    });
    const run = () =>
      reconcile({
        stripe,
        app,
        logger: deps.logger,
        endpointId: settings.endpointId,
        drainingEndpointId: settings.drainingEndpointId,
        ...(deps.now ? { now: deps.now } : {}),
        ...(settings.reconcile ? { settings: settings.reconcile } : {}),
      });
    return { run, mode };
  }

  return async () => {
    const { metrics, logger } = deps;
    try {
      built ??= build();
      const report = await built.run();
      metrics.addMetric(metricNames.reconcilerRuns, MetricUnit.Count, 1);
      metrics.addMetric(metricNames.endpointDisabled, MetricUnit.Count, report.endpoint?.status === "disabled" ? 1 : 0);
      const interrupted =
        report.stoppedBy === "stripe-unavailable" || report.stoppedBy === "ledger-unavailable" || report.stoppedBy === "queue-unavailable";
      metrics.addMetric(metricNames.reconcilerInterrupted, MetricUnit.Count, interrupted ? 1 : 0);
      metrics.addMetric(metricNames.reconcilerErrors, MetricUnit.Count, 0);
      const { endpoint, ...counts } = report;
      logger.info("Reconciler run finished", { ...counts, endpointId: endpoint?.id, endpointStatus: endpoint?.status });
      return report;
    } catch (error) {
      metrics.addMetric(metricNames.reconcilerErrors, MetricUnit.Count, 1);
      logger.error("Reconciler run failed", { error: errorSummary(error) });
      throw error;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
