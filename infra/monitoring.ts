import { metricNames, metricsNamespace, metricsService, outcomeMetricPrefix, type MetricName } from "@stripe-webhooks/core/metrics";
import { settings } from "./preflight";
import { deadLetterQueue, queue } from "./queue";
import { alarmDescription, type AlarmName } from "./alarm-guide";

/*
 * What tells someone: one SNS topic per stage, alarms on the metrics the functions emit
 * (core's metrics.ts names them), and a dashboard with the picture an operator looks at first.
 * README, "Metrics, alarms and the dashboard", says what each alarm means and what to do.
 */

export const alarmTopic = new aws.sns.Topic("AlarmTopic", { name: `${$app.name}-${$app.stage}-alarms` });

if (settings.alarms.email) {
  new aws.sns.TopicSubscription("AlarmEmail", {
    topic: alarmTopic.arn,
    protocol: "email",
    endpoint: settings.alarms.email,
  });
}

const dimensions = { service: metricsService, stage: $app.stage };

interface AlarmSpec {
  name: AlarmName;
  metric: MetricName;
  statistic: "Sum" | "Maximum";
  periodSeconds: number;
  /** Fires at or above this, or below it with `below`. */
  threshold: number;
  below?: boolean;
  /** A silent metric means nothing happened, except for a heartbeat, where it is the failure. */
  missing: "notBreaching" | "breaching";
}

const alarms: AlarmSpec[] = [
  {
    name: "HandlerFailures",
    metric: metricNames.handlerFailures,
    statistic: "Sum",
    periodSeconds: 300,
    threshold: 1,
    missing: "notBreaching",
  },
  {
    name: "ServerErrors",
    metric: metricNames.serverErrors,
    statistic: "Sum",
    periodSeconds: 300,
    threshold: 1,
    missing: "notBreaching",
  },
  {
    name: "InvalidSignatures",
    metric: metricNames.invalidSignatures,
    statistic: "Sum",
    periodSeconds: 300,
    threshold: settings.alarms.invalidSignaturesPer5Minutes,
    missing: "notBreaching",
  },
  {
    name: "EventsRecovered",
    metric: metricNames.eventsRecovered,
    statistic: "Sum",
    periodSeconds: 900,
    threshold: 1,
    missing: "notBreaching",
  },
  {
    name: "EndpointDisabled",
    metric: metricNames.endpointDisabled,
    statistic: "Maximum",
    periodSeconds: 900,
    threshold: 1,
    missing: "notBreaching",
  },
  {
    name: "ReconcilerFailing",
    metric: metricNames.reconcilerErrors,
    statistic: "Sum",
    periodSeconds: 900,
    threshold: 1,
    missing: "notBreaching",
  },
  {
    name: "ReconcilerNotRunning",
    metric: metricNames.reconcilerRuns,
    statistic: "Sum",
    periodSeconds: 3600,
    threshold: 1,
    below: true,
    missing: "breaching",
  },
];

export const alarmResources = alarms.map(
  (alarm) =>
    new aws.cloudwatch.MetricAlarm(`Alarm${alarm.name}`, {
      name: `${$app.name}-${$app.stage}-${alarm.name}`,
      alarmDescription: alarmDescription(alarm.name),
      namespace: metricsNamespace,
      metricName: alarm.metric,
      dimensions,
      statistic: alarm.statistic,
      period: alarm.periodSeconds,
      evaluationPeriods: 1,
      threshold: alarm.threshold,
      comparisonOperator: alarm.below ? "LessThanThreshold" : "GreaterThanOrEqualToThreshold",
      treatMissingData: alarm.missing,
      alarmActions: [alarmTopic.arn],
      okActions: [alarmTopic.arn],
    }),
);

/*
 * Queued processing: SQS's own metrics of the two queues, which tell what the functions' metrics
 * cannot (a consumer that never runs emits nothing). An inline stage has neither queue.
 */
const queueNames = queue && deadLetterQueue ? { queue: queue.nodes.queue.name, deadLetters: deadLetterQueue.nodes.queue.name } : undefined;

/** An alarm on one SQS metric of one queue, at or above `threshold` over five minutes, into the stage's topic. */
function queueAlarm(name: "DeadLetters" | "OldestQueuedMessage", metricName: string, queueName: $util.Output<string>, threshold: number) {
  return new aws.cloudwatch.MetricAlarm(`Alarm${name}`, {
    name: `${$app.name}-${$app.stage}-${name}`,
    alarmDescription: alarmDescription(name),
    namespace: "AWS/SQS",
    metricName,
    dimensions: { QueueName: queueName },
    statistic: "Maximum",
    period: 300,
    evaluationPeriods: 1,
    threshold,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    // SQS stops publishing for an idle, empty queue: no data means no message.
    treatMissingData: "notBreaching",
    alarmActions: [alarmTopic.arn],
    okActions: [alarmTopic.arn],
  });
}

export const queueAlarms = queueNames
  ? [
      queueAlarm("DeadLetters", "ApproximateNumberOfMessagesVisible", queueNames.deadLetters, 1),
      // The metric is in seconds.
      queueAlarm("OldestQueuedMessage", "ApproximateAgeOfOldestMessage", queueNames.queue, settings.alarms.oldestQueuedMessageMinutes * 60),
    ]
  : [];

/** A dashboard widget over metric rows (CloudWatch's `[namespace, name, dimension, value, ...]`). */
function metricWidget(title: string, rows: unknown[][], x: number, y: number, stat: string) {
  return {
    type: "metric",
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, region: settings.region, stat, period: 300, metrics: rows },
  };
}

function widget(title: string, metrics: MetricName[], x: number, y: number, stat = "Sum") {
  const rows = metrics.map((name) => [metricsNamespace, name, "service", metricsService, "stage", $app.stage]);
  return metricWidget(title, rows, x, y, stat);
}

/** A widget of one SQS metric of one queue. */
function sqsWidget(title: string, metric: string, queueName: $util.Output<string>, x: number, y: number) {
  return metricWidget(title, [["AWS/SQS", metric, "QueueName", queueName]], x, y, "Maximum");
}

const queueWidgets = queueNames
  ? [
      widget("Queue: events queued and dead-lettered", [metricNames.eventsQueued, metricNames.eventsDeadLettered], 0, 18),
      sqsWidget("Queue: age of the oldest message (seconds)", "ApproximateAgeOfOldestMessage", queueNames.queue, 12, 18),
      sqsWidget("Dead-letter queue: messages waiting", "ApproximateNumberOfMessagesVisible", queueNames.deadLetters, 0, 24),
    ]
  : [];

export const dashboard = new aws.cloudwatch.Dashboard("Dashboard", {
  dashboardName: `${$app.name}-${$app.stage}`,
  // $jsonStringify: the queue widgets name queues whose names are known only once created.
  dashboardBody: $jsonStringify({
    widgets: [
      {
        type: "metric",
        x: 0,
        y: 0,
        width: 24,
        height: 6,
        properties: {
          title: "Runs by outcome",
          region: settings.region,
          stat: "Sum",
          period: 300,
          metrics: [
            [
              {
                // Every `Outcome.<code>` metric of the stage: the search's free-text term matches the name's tokens.
                expression: `SEARCH('{${metricsNamespace},service,stage} ${outcomeMetricPrefix.replace(".", "")} stage="${$app.stage}"', 'Sum', 300)`,
                id: "outcomes",
              },
            ],
          ],
        },
      },
      widget("Deliveries and 5xx answers", [metricNames.deliveries, metricNames.serverErrors], 0, 6),
      widget("Handler failures and invalid signatures", [metricNames.handlerFailures, metricNames.invalidSignatures], 12, 6),
      widget("Reconciler: runs, recovered events, errors, interruptions", [
        metricNames.reconcilerRuns,
        metricNames.eventsRecovered,
        metricNames.reconcilerErrors,
        metricNames.reconcilerInterrupted,
      ], 0, 12),
      widget("Endpoint disabled (1 = disabled)", [metricNames.endpointDisabled], 12, 12, "Maximum"),
      ...queueWidgets,
    ],
  }),
});
