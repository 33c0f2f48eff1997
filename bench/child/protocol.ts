import { pathToFileURL } from "node:url";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import type { Invoke } from "../../packages/scripts/src/receiver-server.ts";

/* What the bench and its child processes tell each other. */

/** A cold child's one report, written to fd 3 once its first response is back. */
export interface ColdReport {
  /** Milliseconds from process start (Node's time origin) to the harness's first line. */
  bootMs: number;
  /** Importing the bundle: module evaluation, module-scope clients included. */
  importMs: number;
  /** The first invocation, DynamoDB round trips included; 0 for import-only probes. */
  firstEventMs: number;
  statusCode: number;
  /** Peak resident set size of the process so far, in KiB. */
  maxRssKiB: number;
}

/** Names of the event sets a warm child runs rounds of. */
export type SizeName = "small" | "large";

/** The events file a warm child reads: one list of distinct new events per size. */
export type WarmEvents = Record<SizeName, LambdaFunctionURLEvent[]>;

export type WarmRequest = { kind: "round"; size: SizeName } | { kind: "stop" };

export type WarmReply =
  | { kind: "ready" }
  | { kind: "round"; cpuMicros: number; events: number; replayedCommands: number }
  | { kind: "stopped"; maxRssKiB: number }
  | { kind: "failed"; message: string };

/** The events file a request-count child reads: new events to send twice each, per proxy mode. */
export interface RequestCountEvents {
  /** Proxy fills in the existing item on a failed condition, as DynamoDB does. */
  likeDynamoDb: LambdaFunctionURLEvent[];
  /** dynalite as it is: ignores ReturnValuesOnConditionCheckFailure. */
  plainDynalite: LambdaFunctionURLEvent[];
}

export interface RequestCounts {
  /** Requests per first delivery of an event. */
  newEvent: number[];
  /** Requests per redelivery of an already processed event. */
  duplicate: number[];
  /** Status codes answered, in order (all should be 200). */
  statusCodes: number[];
  /** Requests by DynamoDB operation, over the whole run. */
  byOperation: Record<string, number>;
}

export type RequestCountReport = Record<keyof RequestCountEvents, RequestCounts>;

/** What child/unit-costs.ts is given: signed bodies to verify, and how long to measure. */
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

export type BurstServerReply = { kind: "ready"; port: number } | { kind: "stopped"; maxRssKiB: number };

export type BurstServerRequest = { kind: "stop" };

/**
 * Imports a built module and returns its `handler` export, checked at run time since it comes
 * from a file. Probes export no handler (`required` false): they get one that refuses calls.
 */
export async function importHandler(file: string, required = true): Promise<Invoke> {
  const loaded: unknown = await import(pathToFileURL(file).href);
  if (typeof loaded === "object" && loaded !== null && "handler" in loaded && typeof loaded.handler === "function") {
    return loaded.handler as Invoke;
  }
  if (required) throw new Error(`${file} exports no handler function`);
  return () => Promise.reject(new Error(`${file} is a probe, not a handler`));
}

/** The status code of a handler's function URL result. */
export function statusOf(result: unknown): number {
  if (typeof result === "object" && result !== null && "statusCode" in result && typeof result.statusCode === "number") {
    return result.statusCode;
  }
  return 200;
}
