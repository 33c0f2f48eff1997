import type { LambdaFunctionURLEvent } from "aws-lambda";

/* What the warm-CPU runner and its child processes tell each other. */

/** Names of the event sets a warm child runs batches of. */
export type SizeName = "small" | "large";

/** Distinct new events per size; every variant runs the same ones. */
export type WarmEvents = Record<SizeName, LambdaFunctionURLEvent[]>;

/** What the warm child is started with: the variants' replay bundles and the events. */
export interface WarmPlanFile {
  /** In import order; `env` is applied to the process before each bundle is imported. */
  variants: { name: string; bundle: string; env: Record<string, string> }[];
  events: WarmEvents;
}

/** A batch: one variant's next `events` events of one size, taken in turn from the list. */
export type WarmRequest = { kind: "batch"; variant: string; size: SizeName; events: number } | { kind: "stop" };

export type WarmReply =
  | { kind: "ready" }
  | { kind: "batch"; cpuMicros: number; events: number; replayedCommands: number }
  | { kind: "stopped"; maxRssKiB: number }
  | { kind: "failed"; message: string };

/** What unit-costs.ts is given: signed bodies to verify, and how long to measure. */
export interface UnitCostInput {
  secret: string;
  small: { body: string; header: string };
  large: { body: string; header: string };
  rounds: number;
  iterations: number;
}

/** Median CPU microseconds per operation. */
export interface UnitCosts {
  /** One DynamoDB command through a default client, up to where it would go on the wire. */
  sdkSendDefault: number;
  /** The same with `cacheMiddleware: true`. */
  sdkSendCached: number;
  /** One Powertools Logger line (INFO, five attributes). */
  loggerLine: number;
  stripeVerifySmall: number;
  handVerifySmall: number;
  stripeVerifyLarge: number;
  handVerifyLarge: number;
}
