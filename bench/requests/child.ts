import { readFileSync } from "node:fs";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { lambdaContext } from "../../packages/scripts/src/lambda-context.ts";
import { importHandler, reportAndExit, statusOf } from "../shared/child.ts";
import { startCountingProxy } from "./counting-proxy.ts";

/*
 * DynamoDB requests per delivery: `node child.mjs <bundle> <events.json> <dynamodb endpoint>`.
 * The handler's client is pointed at a counting proxy in this process (through the standard
 * AWS_ENDPOINT_URL_DYNAMODB, set before the bundle is imported), deliveries run one at a time,
 * and each is charged the requests made while it ran: every event once as new, then once
 * again as a redelivery. Reports on fd 3.
 */

/** The events file: new events to send twice each, per proxy mode. */
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

const [bundle, eventsFile, upstream] = process.argv.slice(2);
if (!bundle || !eventsFile || !upstream) throw new Error("usage: child.mjs <bundle> <events.json> <endpoint>");

const events = JSON.parse(readFileSync(eventsFile, "utf8")) as RequestCountEvents;
const proxy = await startCountingProxy(upstream);
process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.endpoint;
const handler = await importHandler(bundle);

async function count(list: LambdaFunctionURLEvent[], likeDynamoDb: boolean): Promise<RequestCounts> {
  proxy.likeDynamoDb = likeDynamoDb;
  proxy.byOperation.clear();
  const counts: RequestCounts = { newEvent: [], duplicate: [], statusCodes: [], byOperation: {} };
  for (const series of [counts.newEvent, counts.duplicate]) {
    for (const event of list) {
      const before = proxy.total;
      const result = await handler(event, lambdaContext(event.requestContext.requestId, "us-east-1"));
      counts.statusCodes.push(statusOf(result));
      series.push(proxy.total - before);
    }
  }
  counts.byOperation = Object.fromEntries(proxy.byOperation);
  return counts;
}

const report: RequestCountReport = {
  likeDynamoDb: await count(events.likeDynamoDb, true),
  plainDynalite: await count(events.plainDynalite, false),
};
reportAndExit(report);
