import { Agent, request } from "node:http";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { afterEach, describe, expect, it } from "vitest";
import { openEmbeddedLedger } from "../src/embedded-ledger.ts";
import { sameStopWindowMs } from "../src/receiver/stop-signals.ts";
import { dynamoClient, ledgerTableName } from "../src/local-dynamo.ts";
import { runScript, startReceiver, tempDataDir, type Receiver } from "./helpers/processes.ts";

/*
 * Ctrl+C in a terminal signals the whole foreground process group: npm, the shell it runs the
 * script with, and the receiver, each of which may pass the signal on. Whatever arrives how
 * often, the first Ctrl+C must finish what was accepted and close the ledger cleanly.
 */

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/**
 * A fresh data directory and signing secret for one test, removed after it; `start` runs a
 * receiver on them (as often as the test needs), each killed after the test if still running.
 */
function freshSetup(): { dataDir: string; secret: string; start: () => Promise<Receiver> } {
  const data = tempDataDir();
  cleanups.push(data.remove);
  const secret = newWebhookSecret();
  const start = async () => {
    const receiver = await startReceiver({ DATA_DIR: data.dir, STRIPE_WEBHOOK_SECRET: secret, PORT: "0" });
    cleanups.push(() => receiver.kill());
    return receiver;
  };
  return { dataDir: data.dir, secret, start };
}

type Answer = { id: string; status: number } | { id: string; error: string };

/** Posts `count` signed events over a few keep-alive connections, as a sender under load does. */
function burst(url: string, secret: string, count: number, onAnswer: (answered: number) => void): Promise<Answer[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let answered = 0;
  const one = (): Promise<Answer> => {
    const event = buildEvent("invoice.paid");
    const id = String(event.id);
    const payload = JSON.stringify(event);
    return new Promise<Answer>((resolve) => {
      const req = request(url, {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "stripe-signature": signPayload(payload, secret) },
      });
      req.on("response", (response) => {
        response.resume();
        response.on("end", () => resolve({ id, status: response.statusCode ?? 0 }));
        response.on("error", (error: NodeJS.ErrnoException) => resolve({ id, error: error.code ?? error.message }));
      });
      req.on("error", (error: NodeJS.ErrnoException) => resolve({ id, error: error.code ?? error.message }));
      req.end(payload);
    }).then((answer) => {
      answered += 1;
      onAnswer(answered);
      return answer;
    });
  };
  return Promise.all(Array.from({ length: count }, one)).finally(() => agent.destroy());
}

async function readLedger(dataDir: string) {
  // Through the same check and record as the receiver, which the next round's start verifies.
  const dynamo = await openEmbeddedLedger(dataDir);
  const client = dynamoClient(dynamo.endpoint, "us-east-1");
  try {
    return await ledgerReader(client, ledgerTableName()).list();
  } finally {
    client.destroy();
    await dynamo.close();
  }
}

describe("Ctrl+C in a terminal (SIGINT to the process group) during a burst", () => {
  it("answers every accepted request, flushes the ledger and leaves nothing processing, three times over", async () => {
    const { dataDir, secret, start } = freshSetup();
    const acknowledged = new Set<string>();

    for (let round = 1; round <= 3; round += 1) {
      const receiver = await start();
      let signalled = false;
      const answers = await burst(receiver.url, secret, 120, (answered) => {
        if (answered < 30 || signalled) return;
        signalled = true;
        receiver.signalGroup("SIGINT");
      });
      const exit = await receiver.exit;
      expect(signalled).toBe(true);
      expect(exit, receiver.output()).toEqual({ code: 0, signal: null });
      expect(receiver.output()).toMatch(/^stopped$/m);

      const entries = await readLedger(dataDir);
      const byId = new Map(entries.map((entry) => [entry.id, entry]));
      expect(entries.filter((entry) => entry.status === "processing").map((entry) => entry.id)).toEqual([]);
      for (const answer of answers) {
        if ("status" in answer) {
          expect(answer.status, answer.id).toBe(200);
          expect(byId.get(answer.id)?.status, answer.id).toBe("processed");
          acknowledged.add(answer.id);
        } else {
          // Refused or cut before the handler saw it: nothing of it was accepted, so a
          // redelivery is a first delivery. Anything in the ledger means it was cut off.
          expect(byId.get(answer.id), `${answer.id} failed with ${answer.error} after it was accepted`).toBeUndefined();
        }
      }
      // Acknowledged in an earlier round and still there after this round's restart and stop.
      for (const id of acknowledged) expect(byId.get(id)?.status, id).toBe("processed");
    }
    expect(acknowledged.size).toBeGreaterThanOrEqual(90);
  }, 180_000);

  it("a second Ctrl+C cuts off what is still in flight, says so in one line, and exits 130", async () => {
    const { secret, start } = freshSetup();
    const receiver = await start();

    // A delivery whose body never finishes keeps the first stop waiting.
    const payload = JSON.stringify(buildEvent("invoice.paid"));
    const stuck = request(receiver.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": String(payload.length),
        "stripe-signature": signPayload(payload, secret),
      },
    });
    const cut = new Promise<string>((resolve) => {
      stuck.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      stuck.on("response", (response) => resolve(`answered ${response.statusCode}`));
    });
    const connected = new Promise<void>((resolve) => stuck.on("socket", (socket) => socket.once("connect", () => resolve())));
    stuck.write(payload.slice(0, 50));
    await connected;
    await receiver.waitFor(/^ready /m);
    // The stuck request must be in the receiver's hands before the first Ctrl+C, not only in the
    // kernel's accept queue: connections are taken in order, so one answered after it means it was.
    const later = await fetch(`${new URL(receiver.url).origin}/`, { method: "POST" });
    expect(later.status).toBe(404);

    receiver.signalGroup("SIGINT");
    await receiver.waitFor(/SIGINT: finishing in-flight requests/);
    // Past the moment within which further signals count as copies of the first keypress.
    await new Promise((resolve) => setTimeout(resolve, sameStopWindowMs + 200));
    receiver.signalGroup("SIGINT");

    expect(await receiver.exit).toEqual({ code: 130, signal: null });
    expect(await cut).toMatch(/ECONNRESET|socket hang up/);
    const lines = receiver.output().split("\n").filter((line) => line.includes("cut off"));
    expect(lines).toEqual([expect.stringMatching(/^SIGINT again: cut off 1 request\(s\) in flight; /)]);
    expect(receiver.output()).not.toMatch(/^\s+at /m);
  }, 60_000);
});

describe("the local receiver's routes and help", () => {
  it("npm start -- --help documents the Stripe CLI loop and its variables", async () => {
    const run = await runScript("start", ["--help"], {});
    expect(run.code, run.stderr).toBe(0);
    for (const text of ["STRIPE_API_KEY=sk_test_... npm start", "stripe listen --forward-to", "npm run trigger -- --stripe", "STRIPE_CLI_API_BASE", "STRIPE_API_BASE", "404"]) {
      expect(run.stdout).toContain(text);
    }
  });

  it("answers 404 off the webhook path, as the stage's router does, and writes nothing", async () => {
    const { dataDir, secret, start } = freshSetup();
    const receiver = await start();
    const origin = new URL(receiver.url).origin;
    const signed = () => {
      const event = buildEvent("invoice.paid");
      const payload = JSON.stringify(event);
      return { id: String(event.id), payload, headers: { "content-type": "application/json", "stripe-signature": signPayload(payload, secret) } };
    };

    const strays: string[] = [];
    for (const path of ["/", "/nope", "/stripe/webhooks", "/stripe"]) {
      const delivery = signed();
      const answer = await fetch(`${origin}${path}`, { method: "POST", headers: delivery.headers, body: delivery.payload });
      expect(answer.status, path).toBe(404);
      expect(await answer.json()).toEqual({ error: "not_found", message: "Stripe webhooks are received at /stripe/webhook only" });
      strays.push(delivery.id);
    }
    const delivered = signed();
    const answer = await fetch(`${receiver.url}?attempt=1`, { method: "POST", headers: delivered.headers, body: delivered.payload });
    expect(answer.status).toBe(200);

    expect(await receiver.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    const entries = await readLedger(dataDir);
    expect(entries.map((entry) => entry.id)).toEqual([delivered.id]);
  }, 60_000);
});
