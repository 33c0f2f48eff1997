import { readFileSync } from "node:fs";
import type { Context } from "aws-lambda";
import { lambdaContext } from "../../packages/scripts/src/lambda-context.ts";
import { importHandler, statusOf } from "../shared/child.ts";
import type { Invoke } from "../../packages/scripts/src/receiver/receiver-server.ts";
import type { SizeName, WarmPlanFile, WarmReply, WarmRequest } from "./protocol.ts";
import { benchTape } from "./tape.ts";

/*
 * Warm CPU per event: `node child.mjs <plan.json>`, forked with an IPC channel. One process for
 * every variant: each bundle is imported with its own environment and runs every event once
 * against the real DynamoDB, recording each command's result; then, on each "batch" from the
 * runner, a variant runs its next events of one size again with the recorded results
 * replayed, so no request is built, signed, sent or parsed. The variants share this process's
 * CPU, caches and heap, so a slow spell or a garbage collection cannot favour one of them: a
 * collection falls in whichever batch's allocation triggers it, in proportion to what each
 * allocates. Each bundle keeps its own copy of every module, so none shares compiled code.
 */

const [planFile] = process.argv.slice(2);
if (!planFile) throw new Error("usage: child.mjs <plan.json>");

function send(message: WarmReply, then?: () => void): void {
  process.send?.(message, undefined, undefined, then);
}

const plan = JSON.parse(readFileSync(planFile, "utf8")) as WarmPlanFile;
const sizes: SizeName[] = ["small", "large"];
const tape = benchTape();
// Contexts are made up front: the harness's own work stays out of the measured batches.
const contexts = new Map<SizeName, Context[]>(
  sizes.map((size) => [size, plan.events[size].map((event) => lambdaContext(event.requestContext.requestId, "us-east-1"))]),
);
const handlers = new Map<string, Invoke>();
const cursors = new Map<string, number>();

async function runEvent(name: string, handler: Invoke, size: SizeName, index: number): Promise<void> {
  const event = plan.events[size][index];
  const context = contexts.get(size)?.[index];
  if (!event || !context) throw new Error(`no ${size} event ${index}`);
  tape.use(`${name}:${size}:${index}`);
  const status = statusOf(await handler(event, context));
  if (status !== 200) throw new Error(`${name}: ${size} event ${index} answered ${status}`);
}

/** Runs a variant's next `count` events of a size; process.cpuUsage() around them is its CPU. */
async function batch(name: string, size: SizeName, count: number): Promise<WarmReply> {
  const handler = handlers.get(name);
  if (!handler) throw new Error(`no variant ${name}`);
  const list = plan.events[size];
  let cursor = cursors.get(`${name}:${size}`) ?? 0;
  tape.replayed = 0;
  const before = process.cpuUsage();
  for (let i = 0; i < count; i += 1) {
    await runEvent(name, handler, size, cursor);
    cursor = (cursor + 1) % list.length;
  }
  const used = process.cpuUsage(before);
  cursors.set(`${name}:${size}`, cursor);
  return { kind: "batch", cpuMicros: used.user + used.system, events: count, replayedCommands: tape.replayed };
}

const failed = (error: unknown): WarmReply => ({ kind: "failed", message: error instanceof Error ? error.message : String(error) });

try {
  for (const variant of plan.variants) {
    // Before the import: the baselines read their links at module scope, ours on first use,
    // which is its first recorded event below.
    Object.assign(process.env, variant.env);
    const handler = await importHandler(variant.bundle);
    handlers.set(variant.name, handler);
    tape.mode = "record";
    for (const size of sizes) for (let i = 0; i < plan.events[size].length; i += 1) await runEvent(variant.name, handler, size, i);
    tape.mode = "replay";
  }
  send({ kind: "ready" });
} catch (error) {
  send(failed(error), () => process.exit(1));
}

process.on("message", (message: WarmRequest) => {
  if (message.kind === "stop") {
    // Exits once the reply is out; the SDK's keep-alive sockets would keep the process alive.
    send({ kind: "stopped", maxRssKiB: process.resourceUsage().maxRSS }, () => process.exit(0));
    return;
  }
  batch(message.variant, message.size, message.events).then(send, (error: unknown) => send(failed(error)));
});
