import { startDynalite } from "@stripe-webhooks/testing/engines";
import type { AddressInfo } from "node:net";
import { createReceiverServer } from "../../packages/scripts/src/receiver/receiver-server.ts";
import { importHandler } from "../shared/child.ts";
import { linkVariables } from "../shared/handlers/links.ts";
import { createVariantTable } from "../shared/tables.ts";

/*
 * The local receiver with a handler bundle of our choosing. `npm start` always loads the real
 * handler, so this bench-only entry builds the same server from packages/scripts'
 * createReceiverServer (the same HTTP handling, function URL mapping, Lambda context and
 * timeout) around the bundle named on the command line, with an in-process dynalite in memory
 * as `npm start --memory` has. Forked by the bench with an IPC channel; the handler's logs go
 * to stdout, which the bench points at a file to count side effects afterwards.
 */

export type BurstServerReply = { kind: "ready"; port: number } | { kind: "stopped"; maxRssKiB: number };

export type BurstServerRequest = { kind: "stop" };

const [bundle, keyAttribute] = process.argv.slice(2);
if (!bundle || (keyAttribute !== "pk" && keyAttribute !== "id")) throw new Error("usage: server.ts <bundle> <pk|id>");

function send(message: BurstServerReply, then?: () => void): void {
  process.send?.(message, undefined, undefined, then);
}

const engine = await startDynalite();
const tableName = await createVariantTable(engine, { keyAttribute }, "bench-burst-ledger");
// Only now do the engine and its table exist; set before the import, as the baselines read
// them at module scope.
process.env.AWS_ENDPOINT_URL_DYNAMODB = engine.endpoint;
process.env[linkVariables.tableName] = tableName;
const handler = await importHandler(bundle);

const receiver = createReceiverServer({
  invoke: handler,
  region: process.env.AWS_REGION ?? "us-east-1",
  log: (line) => console.log(line),
  logError: (line) => console.error(line),
});
await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
send({ kind: "ready", port: (receiver.server.address() as AddressInfo).port });

process.on("message", (message: BurstServerRequest) => {
  if (message.kind !== "stop") return;
  receiver
    .drain(5_000)
    .then(() => engine.stop())
    .finally(() => send({ kind: "stopped", maxRssKiB: process.resourceUsage().maxRSS }, () => process.exit(0)));
});
