import { readFileSync } from "node:fs";
import type { Context } from "aws-lambda";
import { lambdaContext } from "../../packages/scripts/src/lambda-context.ts";
import { benchTape } from "../replay/tape.ts";
import { importHandler, statusOf, type SizeName, type WarmEvents, type WarmReply, type WarmRequest } from "./protocol.ts";

/*
 * Warm CPU per event: `node warm.mjs <replay bundle> <events.json>`, forked with an IPC channel.
 * It first runs every event once against the real DynamoDB, recording each command's result
 * (this is also the JIT warm-up), then, on each "round" from the bench, runs one size's events
 * again with the recorded results replayed, so no request is built, signed, sent or parsed.
 * process.cpuUsage() over the round, divided by its events, is the handler's CPU per event
 * without DynamoDB I/O. Rounds are driven by the bench so the four variants' rounds interleave.
 */

const [bundle, eventsFile] = process.argv.slice(2);
if (!bundle || !eventsFile) throw new Error("usage: warm.mjs <bundle> <events.json>");

function send(message: WarmReply): void {
  process.send?.(message);
}

const events = JSON.parse(readFileSync(eventsFile, "utf8")) as WarmEvents;
const sizes: SizeName[] = ["small", "large"];
const tape = benchTape();
const handler = await importHandler(bundle);
// Contexts are made up front: the harness's own work stays out of the measured rounds.
const contexts = new Map<SizeName, Context[]>(
  sizes.map((size) => [size, events[size].map((event) => lambdaContext(event.requestContext.requestId, "us-east-1"))]),
);

async function runAll(size: SizeName): Promise<void> {
  const list = events[size];
  const sizeContexts = contexts.get(size) ?? [];
  for (let i = 0; i < list.length; i += 1) {
    tape.use(`${size}:${i}`);
    const event = list[i];
    const context = sizeContexts[i];
    if (!event || !context) continue;
    const status = statusOf(await handler(event, context));
    if (status !== 200) throw new Error(`${size} event ${i} answered ${status}`);
  }
}

async function round(size: SizeName): Promise<WarmReply> {
  tape.replayed = 0;
  const before = process.cpuUsage();
  await runAll(size);
  const used = process.cpuUsage(before);
  return {
    kind: "round",
    cpuMicros: used.user + used.system,
    events: events[size].length,
    replayedCommands: tape.replayed,
  };
}

try {
  tape.mode = "record";
  for (const size of sizes) await runAll(size);
  tape.mode = "replay";
  send({ kind: "ready" });
} catch (error) {
  send({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}

process.on("message", (message: WarmRequest) => {
  if (message.kind === "stop") {
    // Exits once the reply is out; the SDK's keep-alive sockets would keep the process alive.
    const stopped: WarmReply = { kind: "stopped", maxRssKiB: process.resourceUsage().maxRSS };
    process.send?.(stopped, undefined, undefined, () => process.exit(0));
    return;
  }
  round(message.size).then(send, (error: unknown) =>
    send({ kind: "failed", message: error instanceof Error ? error.message : String(error) }),
  );
});
