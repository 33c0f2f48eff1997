import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { buildEvent, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { afterEach, describe, expect, it } from "vitest";
import { startDynalite } from "../src/local-dynamo.ts";
import { runScript, startReceiver, tempDataDir, type Receiver } from "./helpers/processes.ts";

/*
 * The receiver's life: first start and restart on a persistent data directory, shutdown on
 * signals with requests in flight, and the errors a developer meets first.
 */

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function track(receiver: Receiver): Receiver {
  cleanups.push(() => receiver.kill());
  return receiver;
}

interface Entry {
  id: string;
  status: string;
  attempts: number;
}

/** Sends the first half of a signed event, then the rest once `midway` resolves. */
function slowDelivery(
  url: string,
  secret: string,
  midway: Promise<unknown>,
): { id: string; started: Promise<void>; answer: Promise<{ status: number; body: string }> } {
  const event = buildEvent("invoice.paid");
  const payload = Buffer.from(JSON.stringify(event, null, 2));
  let connected: () => void = () => {};
  const started = new Promise<void>((resolve) => (connected = resolve));
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": String(payload.length),
        "stripe-signature": signPayload(payload.toString(), secret),
      },
    });
    req.on("response", (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.on("socket", (socket) => socket.once("connect", connected));
    req.write(payload.subarray(0, 100));
    void midway.then(() => req.end(payload.subarray(100)));
  });
  return { id: String(event.id), started, answer };
}

describe("receiver lifecycle", () => {
  it("keeps its generated secret and the ledger across a SIGTERM shutdown (in-flight request answered) and a restart", async () => {
    const data = tempDataDir();
    cleanups.push(data.remove);
    const env = { DATA_DIR: data.dir };

    const first = track(await startReceiver({ ...env, PORT: "0" }));
    const secret = /Signing secret {2}(whsec_\S+) {2}\(generated once/.exec(first.output())?.[1] ?? "";
    expect(secret).toMatch(/^whsec_/);
    expect(readFileSync(join(data.dir, "webhook-secret"), "utf8").trim()).toBe(secret);
    expect(existsSync(join(data.dir, "receiver.json"))).toBe(true);

    const triggered = await runScript("trigger", ["invoice.paid"], env);
    expect(triggered.code, triggered.stderr).toBe(0);
    const firstId = /^(evt_\S+) invoice\.paid -> 200/m.exec(triggered.stdout)?.[1] ?? "";
    expect(firstId).not.toBe("");

    // A second receiver must not take over a data directory in use.
    const intruder = await runScript("start", [], { ...env, PORT: "0" });
    expect(intruder.code).toBe(2);
    expect(intruder.stderr).toMatch(new RegExp(`another receiver \\(pid ${first.pid}.*is using`));

    // SIGTERM while a delivery is half sent: it is still answered, then the receiver exits 0.
    const draining = first.waitFor(/SIGTERM: finishing in-flight requests/);
    const slow = slowDelivery(first.url, secret, draining);
    // The server must have parsed the request's headers, or the connection counts as idle.
    await slow.started;
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.kill(first.pid, "SIGTERM");
    const answered = await slow.answer;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ result: "processed" });
    expect(await first.exit).toEqual({ code: 0, signal: null });
    expect(first.output()).toMatch(/^stopped$/m);
    expect(existsSync(join(data.dir, "receiver.json"))).toBe(false);

    // With the receiver stopped, events opens the data directory itself.
    const stopped = await runScript("events", ["--json"], env);
    expect(stopped.code, stopped.stderr).toBe(0);
    const persisted = JSON.parse(stopped.stdout) as Entry[];
    expect(persisted.map((entry) => entry.id).sort()).toEqual([firstId, slow.id].sort());
    expect(persisted.every((entry) => entry.status === "processed" && entry.attempts === 1)).toBe(true);

    // Restarted: same secret, existing table; a redelivery of a pre-restart event is a duplicate.
    const second = track(await startReceiver({ ...env, PORT: "0" }));
    expect(second.output()).toContain(secret);
    expect(second.output()).not.toContain("(created)");
    const redelivered = await runScript("trigger", ["checkout.session.completed"], env);
    expect(redelivered.code, redelivered.stderr).toBe(0);
    const replay = buildEvent("invoice.paid", { id: firstId });
    const payload = JSON.stringify(replay, null, 2);
    const duplicate = await fetch(second.url, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signPayload(payload, secret) },
      body: payload,
    });
    expect(await duplicate.json()).toEqual({ result: "duplicate" });

    const running = await runScript("events", ["--json"], env);
    expect((JSON.parse(running.stdout) as Entry[]).length).toBe(3);

    expect(await second.stop("SIGINT")).toEqual({ code: 0, signal: null });
    // Eight npm runs one after another, each starting Node and loading TypeScript.
  }, 120_000);

  it("a port in use is a one-line error and exit 1", async () => {
    const data = tempDataDir();
    cleanups.push(data.remove);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => blocker.close());
    const { port } = blocker.address() as AddressInfo;

    const run = await runScript("start", ["--memory"], { DATA_DIR: data.dir, PORT: String(port) });
    expect(run.code).toBe(1);
    const errors = run.stderr.split("\n").filter((line) => line.startsWith("error:"));
    expect(errors).toEqual([`error: port ${port} on 127.0.0.1 is already in use (another receiver?). Stop it, or start with PORT=<free port> (PORT=0 picks one).`]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(data.dir, "receiver.json"))).toBe(false);
  });

  it("a malformed STRIPE_WEBHOOK_SECRET is a clear error that never echoes the value", async () => {
    const data = tempDataDir();
    cleanups.push(data.remove);
    const key = "sk_test_51abcdefghijklmnopqrstuvwxyz";
    const run = await runScript("start", ["--memory"], { DATA_DIR: data.dir, PORT: "0", STRIPE_WEBHOOK_SECRET: key });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error: STRIPE_WEBHOOK_SECRET is not a Stripe webhook signing secret \(expected "whsec_" followed by at least 8 characters[^)]*\): it is a Stripe API key/);
    expect(run.stderr).not.toContain(key);
  });
});

describe("other DynamoDB endpoints", () => {
  it("uses DYNAMODB_ENDPOINT instead of the embedded engine, and events reads it directly or as a linked stage", async () => {
    const data = tempDataDir();
    cleanups.push(data.remove);
    // Stands in for DynamoDB Local or a real endpoint: any DynamoDB API outside the receiver.
    const outside = await startDynalite(undefined);
    cleanups.push(() => void outside.close());
    const table = "e2e-external-ledger";
    const env = { DATA_DIR: data.dir, DYNAMODB_ENDPOINT: outside.endpoint, LEDGER_TABLE: table };

    const receiver = track(await startReceiver({ ...env, PORT: "0" }));
    expect(receiver.dynamodbEndpoint).toBe(outside.endpoint);
    expect(receiver.output()).toContain(`DynamoDB at ${outside.endpoint}, table ${table} (created)`);

    const triggered = await runScript("trigger", ["customer.subscription.updated"], { DATA_DIR: data.dir });
    expect(triggered.code, triggered.stderr).toBe(0);
    const id = /^(evt_\S+) customer\.subscription\.updated -> 200/m.exec(triggered.stdout)?.[1] ?? "";

    // Found through the running receiver's receiver.json...
    const viaReceiver = await runScript("events", ["--json"], { DATA_DIR: data.dir });
    expect((JSON.parse(viaReceiver.stdout) as Entry[]).map((entry) => entry.id)).toEqual([id]);
    expect(await receiver.stop()).toEqual({ code: 0, signal: null });

    // ...through the same override the receiver takes...
    const viaEndpoint = await runScript("events", [], env);
    expect(viaEndpoint.stdout).toContain(`Ledger: ${outside.endpoint}, table ${table}`);
    expect(viaEndpoint.stdout).toMatch(new RegExp(`^${id}\\s+customer\\.subscription\\.updated\\s+processed\\s+1\\s`, "m"));

    // ...and as `sst shell --stage <name>` presents a deployed stage: linked resources plus the
    // default AWS configuration (here pointed at the stand-in by the standard endpoint variable).
    const linked = await runScript("events", ["--json"], {
      DATA_DIR: data.dir,
      SST_RESOURCE_App: JSON.stringify({ name: "stripe-webhooks", stage: "e2e" }),
      SST_RESOURCE_Ledger: JSON.stringify({ type: "sst.sst.Linkable", name: table }),
      AWS_ENDPOINT_URL_DYNAMODB: outside.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "e2e",
      AWS_SECRET_ACCESS_KEY: "e2e",
    });
    expect(linked.code, linked.stderr).toBe(0);
    expect((JSON.parse(linked.stdout) as Entry[]).map((entry) => entry.id)).toEqual([id]);
    // Five npm runs one after another.
  }, 120_000);
});
