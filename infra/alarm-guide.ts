/*
 * What each alarm means and what to do about it, in one dependency-free module: infra/monitoring.ts
 * sets each alarm's description from it, and README's alarm table is rendered from it (a test
 * keeps the two equal), so the page an operator reads and the alarm that woke them say the same.
 */

export const alarmNames = [
  "HandlerFailures",
  "ServerErrors",
  "InvalidSignatures",
  "EventsRecovered",
  "EndpointDisabled",
  "ReconcilerFailing",
  "ReconcilerNotRunning",
  "DeadLetters",
  "OldestQueuedMessage",
] as const;

export type AlarmName = (typeof alarmNames)[number];

export interface AlarmGuide {
  /** When it fires, in an operator's words. */
  fires: string;
  /** What to do. */
  action: string;
}

export const alarmGuide: Record<AlarmName, AlarmGuide> = {
  HandlerFailures: {
    fires: "any handler failure in 5 minutes",
    action:
      "the log line `Stripe webhook failed` names the event and the error; fix and deploy: Stripe's retries, the queue or the reconciler run it again",
  },
  ServerErrors: {
    fires: "any 5xx answer to Stripe",
    action: "`handler_failed` as above; `ledger_unavailable`: DynamoDB throttled or unreachable; `queue_unavailable`: SQS refused the send",
  },
  InvalidSignatures: {
    fires: "a spike of refused signatures",
    action: "a wrong secret after a rotation (see the runbook), or someone probing the URL",
  },
  EventsRecovered: {
    fires: "the reconciler processed (or queued) an event",
    action: "the webhook missed it: look for 5xx, a disabled endpoint, or a deploy that answered 2xx without the handler",
  },
  EndpointDisabled: {
    fires: "Stripe disabled the endpoint",
    action: "re-enable it (README, \"Endpoint disabled\")",
  },
  ReconcilerFailing: {
    fires: "a reconciler run failed",
    action: "usually the API key: missing, revoked, or lacking a permission",
  },
  ReconcilerNotRunning: {
    fires: "no run finished in an hour",
    action: "the schedule or the function is broken",
  },
  DeadLetters: {
    fires: "the dead-letter queue holds a message (queued stages)",
    action: "fix the cause, then `npm run redrive` (README, \"A dead-lettered event\")",
  },
  OldestQueuedMessage: {
    fires: "the queue's oldest message is older than `alarms.oldestQueuedMessageMinutes` (15 by default)",
    action:
      "the consumer is failing to start, held to its pace (`maxConcurrency`, `stripeRequestsPerSecond`: a backlog drains at that rate), or one customer's event keeps failing and holds its group: see the consumer's logs and `npm run events -- --status queued`",
  },
};

/** An alarm's CloudWatch description: when it fires and what to do, in plain text. */
export function alarmDescription(name: AlarmName): string {
  const { fires, action } = alarmGuide[name];
  return `Fires on ${fires.replaceAll("`", "")}. ${action.replaceAll("`", "")}.`;
}

/** README's alarm table. */
export function alarmGuideMarkdown(): string {
  return [
    "| Alarm | Fires when | What to do |",
    "| --- | --- | --- |",
    ...alarmNames.map((name) => `| ${name} | ${alarmGuide[name].fires} | ${alarmGuide[name].action} |`),
  ].join("\n");
}
