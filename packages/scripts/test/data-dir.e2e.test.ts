import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { dynamoDataPath } from "../src/data-dir.ts";
import { openEmbeddedLedger } from "../src/embedded-ledger.ts";
import { dynamoClient, ledgerTableName } from "../src/local-dynamo.ts";
import { runScript, startReceiver, tempDataDir, type Receiver } from "./helpers/processes.ts";

/*
 * The data directory across receivers that crash, race, leave stale files, or find their ledger
 * files damaged: what was acknowledged is never silently gone.
 */

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

const secret = newWebhookSecret();

function dir(): string {
  const data = tempDataDir();
  cleanups.push(data.remove);
  return data.dir;
}

function started(receiver: Receiver): Receiver {
  cleanups.push(() => receiver.kill());
  return receiver;
}

async function deliver(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const event = buildEvent("invoice.paid");
    const payload = JSON.stringify(event);
    const answer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signPayload(payload, secret) },
      body: payload,
    });
    if (answer.status === 200) ids.push(String(event.id));
  }
  return ids;
}

async function ledgerIds(dataDir: string): Promise<Map<string, string>> {
  const dynamo = await openEmbeddedLedger(dataDir);
  const client = dynamoClient(dynamo.endpoint, "us-east-1");
  try {
    const entries = await ledgerReader(client, ledgerTableName()).list();
    return new Map(entries.map((entry) => [entry.id, entry.status]));
  } finally {
    client.destroy();
    await dynamo.close();
  }
}

/** Every file's digest, so a refusal can be shown to have changed nothing. */
function digests(path: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(path).sort()) {
    if (statSync(join(path, name)).isFile()) files[name] = createHash("sha256").update(readFileSync(join(path, name))).digest("hex");
  }
  return files;
}

const env = (dataDir: string) => ({ DATA_DIR: dataDir, STRIPE_WEBHOOK_SECRET: secret, PORT: "0" });

describe("a damaged ledger", () => {
  // One ledger with entries, cleanly stopped, copied for each kind of damage.
  let pristine: string;
  let acknowledged: string[];
  beforeAll(async () => {
    pristine = tempDataDir().dir;
    const receiver = await startReceiver(env(pristine));
    acknowledged = await deliver(receiver.url, 40);
    expect(await receiver.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    return () => rmSync(pristine, { recursive: true, force: true });
  }, 120_000);

  const damages: Array<[string, (ledger: string) => void, RegExp]> = [
    ["CURRENT deleted", (ledger) => rmSync(join(ledger, "CURRENT")), /its CURRENT file is missing/],
    [
      "a truncated log",
      (ledger) => {
        const log = readdirSync(ledger).filter((name) => name.endsWith(".log")).sort((a, b) => statSync(join(ledger, b)).size - statSync(join(ledger, a)).size)[0] ?? "";
        truncateSync(join(ledger, log), Math.floor(statSync(join(ledger, log)).size / 2));
      },
      /since it was last closed \d+\.log is \d+ bytes, was \d+/,
    ],
    [
      "an empty MANIFEST",
      (ledger) => writeFileSync(join(ledger, readFileSync(join(ledger, "CURRENT"), "utf8").trim()), ""),
      /MANIFEST-\d+ is empty/,
    ],
  ];

  it.each(damages)("%s: npm start and npm run events refuse it in one line and change nothing", async (_name, damage, reason) => {
    const copy = dir();
    cpSync(pristine, copy, { recursive: true });
    const ledger = dynamoDataPath(copy);
    damage(ledger);
    const before = digests(ledger);

    // One after the other: each takes the data directory's lock while it looks.
    const start = await runScript("start", [], env(copy));
    const events = await runScript("events", ["--json"], { DATA_DIR: copy });
    for (const run of [start, events]) {
      expect(run.code, run.stderr).toBe(1);
      const errors = run.stderr.split("\n").filter((line) => line.trim() !== "" && !line.includes("NodeVersionSupportWarning"));
      expect(errors).toEqual([expect.stringMatching(new RegExp(`^error: the ledger in ${ledger} is damaged \\(`))]);
      expect(errors[0]).toMatch(reason);
      expect(errors[0]).toContain(`Move it aside (mv ${ledger} ${ledger}.damaged) to start with an empty ledger, or start with --memory.`);
    }
    expect(start.stdout).not.toContain("ready ");
    expect(digests(ledger)).toEqual(before);
  }, 60_000);

  it("an undamaged copy starts and holds every acknowledged event", async () => {
    const copy = dir();
    cpSync(pristine, copy, { recursive: true });
    const ids = await ledgerIds(copy);
    for (const id of acknowledged) expect(ids.get(id), id).toBe("processed");
  });
});

describe("a receiver killed outright (kill -9)", () => {
  it("keeps everything it acknowledged, and the next one starts normally", async () => {
    const dataDir = dir();
    const first = started(await startReceiver(env(dataDir)));
    const acknowledged = await deliver(first.url, 30);
    first.kill();
    await first.exit;

    // Its receiver.json and lock are left behind, naming a process that is gone.
    const second = started(await startReceiver(env(dataDir)));
    expect(second.output()).not.toContain("(created)");
    acknowledged.push(...(await deliver(second.url, 5)));
    expect(await second.stop("SIGTERM")).toEqual({ code: 0, signal: null });

    const ids = await ledgerIds(dataDir);
    expect(acknowledged).toHaveLength(35);
    for (const id of acknowledged) expect(ids.get(id), id).toBe("processed");
  }, 120_000);
});

describe("start-up", () => {
  it("of two receivers started at the same moment on one data directory, one runs and the other says so in one line", async () => {
    const dataDir = dir();
    const outcomes = await Promise.allSettled([startReceiver(env(dataDir)), startReceiver(env(dataDir))]);
    const winners = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [started(outcome.value)] : []));
    const losers = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [String(outcome.reason)] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    const winner = winners[0] as Receiver;
    const errors = (losers[0] ?? "").split("\n").filter((line) => line.startsWith("error:"));
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^error: another receiver \\(pid ${winner.pid}.*\\) is using ${dataDir}\\. Stop it`))]);
    expect(losers[0]).not.toMatch(/^\s+at /m);
    expect(await winner.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("a receiver.json whose pid now belongs to another program is ignored by npm start and by the tools", async () => {
    const dataDir = dir();
    const first = started(await startReceiver(env(dataDir)));
    const acknowledged = await deliver(first.url, 3);
    expect(await first.stop("SIGTERM")).toEqual({ code: 0, signal: null });

    // A receiver killed outright, whose pid the system then gave to a `sleep`.
    const sleeper = spawn("sleep", ["300"], { stdio: "ignore" });
    cleanups.push(() => sleeper.kill());
    const pid = sleeper.pid ?? 0;
    const receiverCommand = "node --import tsx packages/scripts/src/receiver/receiver.ts";
    writeFileSync(
      join(dataDir, "receiver.json"),
      JSON.stringify({
        pid,
        command: receiverCommand,
        url: "http://127.0.0.1:1/stripe/webhook",
        dynamodbEndpoint: "http://127.0.0.1:1",
        tableName: ledgerTableName(),
        region: "us-east-1",
        persisted: true,
        secretSource: "env",
        startedAt: new Date().toISOString(),
      }),
    );
    writeFileSync(join(dataDir, "receiver.lock"), JSON.stringify({ pid, what: "receiver", command: receiverCommand }));

    const listed = await runScript("events", [], { DATA_DIR: dataDir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${dynamoDataPath(dataDir)} (its receiver (pid ${pid}) is gone)`);
    for (const id of acknowledged) expect(listed.stdout).toContain(id);

    const next = started(await startReceiver(env(dataDir)));
    expect(next.output()).not.toContain("another receiver");
    expect(await next.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  }, 120_000);
});
