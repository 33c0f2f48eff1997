import { readFileSync, writeSync } from "node:fs";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { lambdaContext } from "../../packages/scripts/src/lambda-context.ts";
import { startCountingProxy } from "./counting-proxy.ts";
import {
  importHandler,
  statusOf,
  type RequestCountEvents,
  type RequestCountReport,
  type RequestCounts,
} from "./protocol.ts";

/*
 * DynamoDB requests per delivery: `node requests.mjs <bundle> <events.json> <dynamodb endpoint>`.
 * The handler's client is pointed at a counting proxy in this process (through the standard
 * AWS_ENDPOINT_URL_DYNAMODB, set before the bundle is imported), deliveries run one at a time,
 * and each is charged the requests made while it ran: every event once as new, then once
 * again as a redelivery. Reports on fd 3.
 */

const [bundle, eventsFile, upstream] = process.argv.slice(2);
if (!bundle || !eventsFile || !upstream) throw new Error("usage: requests.mjs <bundle> <events.json> <endpoint>");

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
writeSync(3, `${JSON.stringify(report)}\n`);
process.exit(0);
