import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createLedger, type LedgerEntry, type LedgerEvent } from "@stripe-webhooks/core/ledger";
import { newEventId } from "@stripe-webhooks/stripe-fixtures/events";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runScript } from "./helpers/processes.ts";

/*
 * The real `npm run events` (DYNAMODB_ENDPOINT + LEDGER_TABLE) over a ledger written by core's
 * own claims on each engine: types that are Object.prototype's names, ids and types carrying
 * terminal controls, a lease that expired beside one in flight, and more entries than the
 * table's default page.
 */

// Near the real time: DynamoDB Local enforces TTL, and the tool judges leases by its own clock.
const now = Date.now();
const abandonedAt = now - 10 * 60_000;

// Raw controls a signed event could carry: a right-to-left override, NUL, ESC (a colour
// sequence), a C1 CSI, a bidi isolate, and a newline that would start a fake row.
const hostileId = "evt_\u202Egnp.exe\u0000";
const hostileType = "invoice.\u001b[31mpaid\u009b\u2066\nfake";
const rawControls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

const fillers = 52;

function facts(type: string, id = newEventId()): LedgerEvent {
  return { id, type, livemode: false, apiVersion: "2026-01-28.clover", created: Math.floor(now / 1000) - 60 };
}

describeEachEngine("npm run events", (engine) => {
  let client: DynamoDBClient;
  let env: Record<string, string>;
  let inFlight: LedgerEntry;
  let abandoned: LedgerEntry;

  beforeAll(async () => {
    client = engine().client();
    const tableName = await engine().createLedgerTable();
    env = { DYNAMODB_ENDPOINT: engine().endpoint, LEDGER_TABLE: tableName, AWS_REGION: "us-east-1" };
    let clock = now - 5 * 60_000;
    const ledger = createLedger(client, tableName, { now: () => clock, leaseSeconds: 60 });
    const claim = async (event: LedgerEvent): Promise<LedgerEntry> => {
      clock += 1;
      const result = await ledger.claim(event);
      if (result.kind !== "claimed") throw new Error(`could not claim ${event.id}`);
      return result.entry;
    };

    for (let n = 0; n < fillers; n += 1) await ledger.complete(await claim(facts("invoice.paid")), "done");
    await ledger.complete(await claim(facts("__proto__")), "done");
    await ledger.fail(await claim(facts("__proto__")), "Error: boom");
    await ledger.complete(await claim(facts("constructor")), "done");
    await ledger.complete(await claim(facts("toString")), "done");
    await ledger.complete(await claim(facts(hostileType, hostileId)), "done");
    // Claimed long ago by a delivery that never came back; the other one holds its lease for an
    // hour, longer than this suite runs.
    clock = abandonedAt;
    abandoned = await claim(facts("customer.subscription.updated"));
    const held = await createLedger(client, tableName, { now: () => now, leaseSeconds: 3_600 }).claim(
      facts("customer.subscription.created"),
    );
    if (held.kind !== "claimed") throw new Error("could not claim the in-flight event");
    inFlight = held.entry;
  });

  afterAll(() => client.destroy());

  const total = fillers + 7;

  it("--summary counts __proto__, constructor and toString like any other type, and none inherits another's counts", async () => {
    const run = await runScript("events", ["--summary", "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { byType: Record<string, unknown>; total: number; leaseExpired: number };

    expect(Object.keys(summary.byType)).toEqual(expect.arrayContaining(["__proto__", "constructor", "toString"]));
    expect(Object.getOwnPropertyDescriptor(summary.byType, "__proto__")?.value).toEqual({ total: 2, processed: 1, failed: 1 });
    expect(summary.byType.constructor).toEqual({ total: 1, processed: 1 });
    expect(summary.byType.toString).toEqual({ total: 1, processed: 1 });
    expect(summary.byType["invoice.paid"]).toEqual({ total: fillers, processed: fillers });
    expect(summary).toMatchObject({ total, leaseExpired: 1 });

    const text = await runScript("events", ["--summary"], env);
    expect(text.code, text.stderr).toBe(0);
    // Columns: TOTAL QUEUED PROCESSING PROCESSED FAILED IGNORED.
    expect(text.stdout).toMatch(/^__proto__ +2 +0 +0 +1 +1 +0$/m);
    expect(text.stdout).toMatch(/^constructor +1 +0 +0 +1 +0 +0$/m);
    expect(text.stdout).toMatch(/^toString +1 +0 +0 +1 +0 +0$/m);
    expect(text.stdout).toMatch(new RegExp(`^invoice\\.paid +${fillers} +0 +0 +${fillers} +0 +0$`, "m"));
    expect(text.stdout).toMatch(new RegExp(`^\\(all types\\) +${total} +0 +2 +${total - 3} +1 +0$`, "m"));
    expect(text.stdout).toMatch(/^1 entry is processing with an expired lease/m);
    expect(text.stdout).not.toMatch(rawControls);
    expect(text.stdout).toContain("invoice.\\u{001B}[31mpaid\\u{009B}\\u{2066}\\u{000A}fake");
  }, 60_000);

  it("the table shows the newest 50, says how many more there are and how to see them", async () => {
    const run = await runScript("events", [], env);
    expect(run.code, run.stderr).toBe(0);
    const rows = run.stdout.split("\n").filter((line) => line.startsWith("evt_"));
    expect(rows).toHaveLength(50);
    expect(run.stdout).toMatch(new RegExp(`^50 of ${total} entries, newest first; ${total - 50} more: --limit N .*--all`, "m"));

    const all = await runScript("events", ["--all"], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.split("\n").filter((line) => line.startsWith("evt_"))).toHaveLength(total);
    expect(all.stdout).toMatch(new RegExp(`^${total} entries, newest first$`, "m"));

    // Scripts reading JSON get every entry unless they ask for fewer.
    const json = await runScript("events", ["--json"], env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toHaveLength(total);
  }, 60_000);

  it("an entry whose lease expired reads differently from one in flight", async () => {
    const run = await runScript("events", ["--status", "processing"], env);
    expect(run.code, run.stderr).toBe(0);
    const row = (id: string) => run.stdout.split("\n").find((line) => line.startsWith(id)) ?? "";

    expect(row(abandoned.id)).toMatch(/ processing \(lease expired\) /);
    expect(row(inFlight.id)).toMatch(/ processing {2,}/);
    expect(row(inFlight.id)).not.toContain("expired");
    expect(run.stdout).toMatch(/^1 entry is processing with an expired lease: .*npm run reconcile/m);
  }, 60_000);

  it("ids and types holding control characters are printed escaped, never raw", async () => {
    const run = await runScript("events", ["--limit", "100"], env);
    expect(run.code, run.stderr).toBe(0);

    expect(run.stdout).not.toMatch(rawControls);
    const row = run.stdout.split("\n").find((line) => line.startsWith("evt_\\u{202E}")) ?? "";
    expect(row).toContain("evt_\\u{202E}gnp.exe\\u{0000}");
    expect(row).toContain("invoice.\\u{001B}[31mpaid\\u{009B}\\u{2066}\\u{000A}fake");
  }, 60_000);
});
