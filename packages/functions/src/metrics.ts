import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { countersFor, metricNames, metricsNamespace, metricsService } from "@stripe-webhooks/core/metrics";
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
 * watch, and `Outcomes` by code and source (a single-metric line, so its extra dimensions do not
 * spread to the counters).
 */
export function observeInto(metrics: Metrics): OutcomeObserver {
  return (observation) => {
    for (const name of countersFor(observation)) metrics.addMetric(name, MetricUnit.Count, 1);
    const single = metrics.singleMetric();
    single.addDimensions({ outcome: observation.code, source: observation.source });
    single.addMetric(metricNames.outcomes, MetricUnit.Count, 1);
  };
}
