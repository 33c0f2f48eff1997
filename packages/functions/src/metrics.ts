import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { countersFor, metricsNamespace, metricsService, outcomeMetricName } from "@stripe-webhooks/core/metrics";
import type { OutcomeObserver } from "@stripe-webhooks/core/outcomes";

/**
 * The functions' metrics (Powertools, CloudWatch EMF on stdout), one per container, with the
 * stage as a dimension beside the service so that stages sharing an account keep their own
 * alarms. Metrics are buffered per invocation and published by the handler when it ends.
 */
export function createMetrics(stage: string): Metrics {
  return new Metrics({ namespace: metricsNamespace, serviceName: metricsService, defaultDimensions: { stage } });
}

/**
 * An outcome observer that counts each run into `metrics`: the service-level counters the alarms
 * watch, and the run's outcome as a metric of its own name (see `outcomeMetricName`), all in the
 * invocation's one EMF line: a second line per event (a single metric with its own dimensions)
 * would cost as much again as the rest of the metrics work.
 */
export function observeInto(metrics: Metrics): OutcomeObserver {
  return (observation) => {
    for (const name of countersFor(observation)) metrics.addMetric(name, MetricUnit.Count, 1);
    metrics.addMetric(outcomeMetricName(observation.code), MetricUnit.Count, 1);
  };
}
