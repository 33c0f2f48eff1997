import { readFileSync, writeSync } from "node:fs";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { lambdaContext } from "../../packages/scripts/src/lambda-context.ts";
import { importHandler, statusOf, type ColdReport } from "./protocol.ts";

/*
 * A cold start: `node cold.mjs <bundle> [event.json]` imports a handler bundle in a fresh
 * process and hands it one event, as Lambda's first invocation of a new container does, then
 * reports on fd 3 and exits (the SDK's keep-alive sockets would hold the process open). The
 * event file is read before the clock starts, so the timings are the bundle's alone. Without
 * an event it only imports: the probes that attribute import time to single dependencies.
 */

const [bundle, eventFile] = process.argv.slice(2);
if (!bundle) throw new Error("usage: cold.mjs <bundle> [event.json]");
const event = eventFile ? (JSON.parse(readFileSync(eventFile, "utf8")) as LambdaFunctionURLEvent) : undefined;
const context = lambdaContext(event?.requestContext.requestId ?? "probe", process.env.AWS_REGION ?? "us-east-1");

const started = performance.now();
const handler = await importHandler(bundle, event !== undefined);
const imported = performance.now();
const statusCode = event ? statusOf(await handler(event, context)) : 0;
const answered = performance.now();

const report: ColdReport = {
  bootMs: started,
  importMs: imported - started,
  firstEventMs: answered - imported,
  statusCode,
  maxRssKiB: process.resourceUsage().maxRSS,
};
writeSync(3, `${JSON.stringify(report)}\n`);
process.exit(0);
