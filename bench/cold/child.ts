import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { lambdaContext } from "../../packages/scripts/src/lambda-context.ts";
import { importHandler, reportAndExit, statusOf } from "../shared/child.ts";

/*
 * A cold start: `node child.mjs <bundle> [event.json]` imports a handler bundle in a fresh
 * process and hands it one event, as Lambda's first invocation of a new container does, then
 * reports on fd 3. The event file is read before the clock starts, so the timings are the
 * bundle's alone. Without an event it only imports: the probes, which export no handler.
 */

/** The one report, written once the first response is back. */
export interface ColdReport {
  /** Importing the bundle: module evaluation, module-scope clients included. */
  importMs: number;
  /** The first invocation, DynamoDB round trips included; 0 for import-only probes. */
  firstEventMs: number;
  statusCode: number;
  /** Peak resident set size of the process so far, in KiB. */
  maxRssKiB: number;
}

const [bundle, eventFile] = process.argv.slice(2);
if (!bundle) throw new Error("usage: child.mjs <bundle> [event.json]");
const event = eventFile ? (JSON.parse(readFileSync(eventFile, "utf8")) as LambdaFunctionURLEvent) : undefined;
const context = event ? lambdaContext(event.requestContext.requestId, process.env.AWS_REGION ?? "us-east-1") : undefined;

const started = performance.now();
const handler = event ? await importHandler(bundle) : void (await import(pathToFileURL(bundle).href));
const imported = performance.now();
const statusCode = event && context && handler ? statusOf(await handler(event, context)) : 0;
const answered = performance.now();

const report: ColdReport = {
  importMs: imported - started,
  firstEventMs: answered - imported,
  statusCode,
  maxRssKiB: process.resourceUsage().maxRSS,
};
reportAndExit(report);
