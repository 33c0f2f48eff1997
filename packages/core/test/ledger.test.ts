import type { DynamoDBClient, TransactWriteItem, TransactWriteItemsCommandInput } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEffectStager } from "../src/effects.ts";
import { LedgerRejectedError, LedgerUnavailableError } from "../src/errors.ts";
import { createLedger, type Ledger, type LedgerEvent } from "../src/ledger.ts";
import { ledgerHandlerActions } from "../src/ledger-table.ts";
import { leaseSeconds } from "../src/limits.ts";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { countRequests } from "@stripe-webhooks/testing/engines";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { newEventId } from "@stripe-webhooks/stripe-fixtures/events";

// Near the real time: DynamoDB Local enforces TTL, so items dated in the past would vanish mid-test.
const start = Math.floor(Date.now() / 1000) * 1000;
const leaseMs = leaseSeconds * 1000;

function facts(overrides: Partial<LedgerEvent> = {}): LedgerEvent {
  return {
    id: newEventId(),
    type: "invoice.paid",
    livemode: false,
    apiVersion: "2026-01-28.clover",
    created: Math.floor(start / 1000) - 5,
    ...overrides,
  };
}

describeEachEngine("ledger", (engine, definition) => {
  let client: DynamoDBClient;
  let tableName: string;
  let clock: number;
  let ledger: Ledger;

  beforeAll(async () => {
    client = engine().client();
    tableName = await engine().createLedgerTable();
  });

  afterAll(() => client.destroy());

  beforeEach(() => {
    clock = start;
    ledger = createLedger(client, tableName, { now: () => clock });
  });

  describe("claim", () => {
    it("claims a new event: processing, first attempt, leased past the function timeout, kept 30+ days", async () => {
      const event = facts({ account: "acct_123" });

      const result = await ledger.claim(event);

      expect(result.kind).toBe("claimed");
      const stored = await ledgerReader(client, tableName).get(event.id);
      expect(stored).toEqual({
        id: event.id,
        type: "invoice.paid",
        status: "processing",
        attempts: 1,
        firstSeenAt: new Date(start).toISOString(),
        lastAttemptAt: new Date(start).toISOString(),
        leaseExpiresAt: new Date(start + leaseMs).toISOString(),
        livemode: false,
        apiVersion: "2026-01-28.clover",
        account: "acct_123",
        eventCreatedAt: new Date((Math.floor(start / 1000) - 5) * 1000).toISOString(),
        expiresAt: stored?.expiresAt,
      });
      expect(stored?.expiresAt).toBeGreaterThanOrEqual(start / 1000 + 30 * 86_400);
    });

    it("stores a null api_version and no account for a platform event", async () => {
      const event = facts({ apiVersion: null });

      await ledger.claim(event);

      const stored = await ledgerReader(client, tableName).get(event.id);
      expect(stored?.apiVersion).toBeNull();
      expect(stored).not.toHaveProperty("account");
    });

    it("reports a duplicate delivery while the lease runs as in progress, without changing the item", async () => {
      const event = facts();
      await ledger.claim(event);
      clock = start + leaseMs - 1;

      const result = await ledger.claim(event);

      expect(result.kind).toBe("in_progress");
      expect(result.entry?.attempts).toBe(1);
      expect((await ledgerReader(client, tableName).get(event.id))?.attempts).toBe(1);
    });

    it("reclaims an event whose lease expired (a crashed delivery), as attempt 2", async () => {
      const event = facts();
      await ledger.claim(event);
      clock = start + leaseMs;

      const result = await ledger.claim(event);

      expect(result.kind).toBe("claimed");
      expect(result.entry?.attempts).toBe(2);
      expect(result.entry?.firstSeenAt).toBe(new Date(start).toISOString());
      expect(result.entry?.leaseExpiresAt).toBe(new Date(clock + leaseMs).toISOString());
    });

    it("lets a claim whose run is gone be taken up at once once its lease is released, and leaves a settled event alone", async () => {
      const event = facts();
      await ledger.claim(event);
      expect((await ledger.claim(event)).kind).toBe("in_progress");

      await ledger.releaseLease(event.id);
      const result = await ledger.claim(event);

      expect(result.kind).toBe("claimed");
      expect(result.entry?.attempts).toBe(2);
      if (result.kind !== "claimed") return;
      await ledger.complete(result.entry, "done");
      await ledger.releaseLease(event.id);
      expect(await ledgerReader(client, tableName).get(event.id)).toMatchObject({ status: "processed", outcome: "done" });
      expect((await ledgerReader(client, tableName).get(event.id))?.leaseExpiresAt).toBeUndefined();
    });

    it("resets an event's deferrals when it is marked dead-lettered, so a redrive counts afresh", async () => {
      const event = facts();
      const claim = await ledger.claim(event);
      expect(await ledger.recordDeferral(event.id)).toBe(1);
      expect(await ledger.recordDeferral(event.id)).toBe(2);
      expect(await ledger.recordDeferral("evt_neverSeenByTheLedger")).toBeUndefined();
      if (claim.kind !== "claimed") throw new Error("not claimed");
      await ledger.fail(claim.entry, "boom");

      await ledger.recordDeadLettered(event.id);

      expect(await ledgerReader(client, tableName).get(event.id)).toMatchObject({
        status: "failed",
        deferrals: 0,
        deadLetteredAt: new Date(clock).toISOString(),
      });
    });

    it("reports a processed event as a duplicate", async () => {
      const event = facts();
      const claim = await ledger.claim(event);
      if (claim.kind !== "claimed") throw new Error("not claimed");
      await ledger.complete(claim.entry, "done");
      clock = start + 10 * leaseMs;

      const result = await ledger.claim(event);

      expect(result).toMatchObject({ kind: "duplicate", entry: { status: "processed", attempts: 1, outcome: "done" } });
    });
  });

  describe("complete and fail", () => {
    it("completes a claim: processed, outcome and time recorded, lease gone", async () => {
      const event = facts();
      const claim = await ledger.claim(event);
      if (claim.kind !== "claimed") throw new Error("not claimed");
      clock = start + 1500;

      const released = await ledger.complete(claim.entry, "fulfilled order");

      expect(released).toBe("recorded");
      const stored = await ledgerReader(client, tableName).get(event.id);
      expect(stored).toMatchObject({ status: "processed", attempts: 1, outcome: "fulfilled order", processedAt: new Date(clock).toISOString() });
      expect(stored).not.toHaveProperty("leaseExpiresAt");
    });

    it("fails a claim with the error summary, and lets the next delivery claim it again", async () => {
      const event = facts();
      const claim = await ledger.claim(event);
      if (claim.kind !== "claimed") throw new Error("not claimed");

      const released = await ledger.fail(claim.entry, "Error: downstream timeout");
      const retry = await ledger.claim(event);

      expect(released).toBe("recorded");
      expect(retry).toMatchObject({ kind: "claimed", entry: { status: "processing", attempts: 2, lastError: "Error: downstream timeout" } });
    });

    it("refuses the result of a delivery whose lease was taken over, and keeps the newer one", async () => {
      // Prepare: delivery A claims, runs past its lease; delivery B reclaims.
      const event = facts();
      const first = await ledger.claim(event);
      clock = start + leaseMs + 1;
      const second = await ledger.claim(event);
      if (first.kind !== "claimed" || second.kind !== "claimed") throw new Error("not claimed");

      // Act
      const late = await ledger.complete(first.entry, "A's result");
      const current = await ledger.complete(second.entry, "B's result");

      // Assess
      expect(late).toBe("lease_lost");
      expect(current).toBe("recorded");
      expect(await ledgerReader(client, tableName).get(event.id)).toMatchObject({ status: "processed", attempts: 2, outcome: "B's result" });
    });

    it("refuses to mark failed an event another delivery took over", async () => {
      const event = facts();
      const first = await ledger.claim(event);
      clock = start + leaseMs + 1;
      await ledger.claim(event);
      if (first.kind !== "claimed") throw new Error("not claimed");

      const late = await ledger.fail(first.entry, "Error: late");

      expect(late).toBe("lease_lost");
      expect(await ledgerReader(client, tableName).get(event.id)).toMatchObject({ status: "processing", attempts: 2 });
    });
  });

  describe("recordIgnored", () => {
    it("records an unhandled type as ignored, without a lease, and reports redeliveries as duplicates", async () => {
      const event = facts({ type: "customer.created" });

      const first = await ledger.recordIgnored(event);
      const again = await ledger.recordIgnored(event);

      expect(first).toMatchObject({ kind: "recorded", entry: { status: "ignored", attempts: 1 } });
      expect(first.entry).not.toHaveProperty("leaseExpiresAt");
      expect(again).toMatchObject({ kind: "duplicate", entry: { status: "ignored" } });
    });
  });

  describe("requests", () => {
    it("claims a new event with one request, and learns of a duplicate with one (two without ALL_OLD)", async () => {
      // Prepare
      const counted = engine().client();
      const requests = countRequests(counted);
      const countedLedger = createLedger(counted, tableName, { now: () => clock });
      const event = facts();

      // Act
      await countedLedger.claim(event);
      const forNew = requests.total;
      requests.reset();
      await countedLedger.claim(event);
      const forDuplicate = Object.fromEntries(requests.byCommand);
      counted.destroy();

      // Assess
      expect(forNew).toBe(1);
      expect(forDuplicate).toEqual(
        engine().returnsItemOnConditionFailure ? { UpdateItemCommand: 1 } : { UpdateItemCommand: 1, GetItemCommand: 1 },
      );
    });
  });

  describe("permissions", () => {
    // IAM has no dynamodb:TransactWriteItems action: it authorises each of a transaction's items
    // by its own action, so that is what the handler must be granted.
    function transactionActions(item: TransactWriteItem): string[] {
      return [
        item.Put ? "dynamodb:PutItem" : undefined,
        item.Update ? "dynamodb:UpdateItem" : undefined,
        item.Delete ? "dynamodb:DeleteItem" : undefined,
        item.ConditionCheck ? "dynamodb:ConditionCheckItem" : undefined,
      ].filter((action): action is string => action !== undefined);
    }

    it("uses only the actions infra grants the handler (ledgerHandlerActions)", async () => {
      // Prepare: every ledger path the handler takes, on one client that records what IAM would
      // check. DynamoDB Local commits staged effects in a transaction, as on AWS; dynalite has
      // none, so there they are written one by one (`transactions: false`).
      const { transactions } = definition;
      const counted = engine().client();
      const actions: string[] = [];
      counted.middlewareStack.add(
        (next, context) => (args) => {
          const command = (context.commandName ?? "unknown").replace(/Command$/, "");
          if (command !== "TransactWriteItems") actions.push(`dynamodb:${command}`);
          // The command's name says which input it is.
          else actions.push(...((args.input as TransactWriteItemsCommandInput).TransactItems ?? []).flatMap(transactionActions));
          return next(args);
        },
        { step: "initialize", name: "testActions" },
      );
      const countedLedger = createLedger(counted, tableName, {
        now: () => clock,
        transactions,
      });
      const failing = facts();
      const ignored = facts({ type: "customer.created" });
      const withEffects = facts();
      const staged = createEffectStager(tableName);
      staged.stager.put({ pk: `app#permissions#${withEffects.id}#put` });
      const n = { names: { "#n": "n" } };
      staged.stager.update({ pk: `app#permissions#${withEffects.id}#update` }, { expression: "SET #n = :n", ...n, values: { ":n": 1 } });
      staged.stager.delete({ pk: `app#permissions#${withEffects.id}#delete` });
      // Condition checks exist only in transactions.
      if (transactions) staged.stager.check({ pk: `app#permissions#${withEffects.id}#check` }, { condition: "attribute_not_exists(#n)", ...n });

      // Act
      const claimed = await countedLedger.claim(failing);
      if (claimed.kind !== "claimed") throw new Error(`expected a claim, got ${claimed.kind}`);
      await countedLedger.claim(failing);
      await countedLedger.fail(claimed.entry, "boom");
      const retried = await countedLedger.claim(failing);
      if (retried.kind !== "claimed") throw new Error(`expected a reclaim, got ${retried.kind}`);
      await countedLedger.complete(retried.entry, "done");
      await countedLedger.recordIgnored(ignored);
      await countedLedger.recordIgnored(ignored);
      const effectful = await countedLedger.claim(withEffects);
      if (effectful.kind !== "claimed") throw new Error(`expected a claim, got ${effectful.kind}`);
      expect(await countedLedger.complete(effectful.entry, "done with effects", staged.items())).toBe("recorded");
      counted.destroy();

      // Assess
      expect(actions.length).toBeGreaterThan(0);
      // The staged effects were among what was checked, as their own actions.
      expect(actions).toEqual(
        expect.arrayContaining([
          "dynamodb:PutItem",
          "dynamodb:DeleteItem",
          ...(transactions ? ["dynamodb:ConditionCheckItem"] : []),
        ]),
      );
      expect(actions.filter((action) => !(ledgerHandlerActions as readonly string[]).includes(action))).toEqual([]);
    });
  });

  describe("DynamoDB errors", () => {
    it("surface as LedgerUnavailableError, keeping the SDK's error as cause", async () => {
      const missing = createLedger(client, "no-such-table", { now: () => clock });

      const error = await missing.claim(facts()).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(LedgerUnavailableError);
      expect((error as LedgerUnavailableError).cause).toMatchObject({ name: "ResourceNotFoundException" });
    });

    it.each<[string, Partial<LedgerEvent>]>([
      ["a key over DynamoDB's 2,048-byte limit", { id: `evt_${"x".repeat(2996)}` }],
      ["an api_version of no DynamoDB type (the key missing from the event)", { apiVersion: undefined as unknown as null }],
    ])("rejecting the request as invalid (%s) surface as LedgerRejectedError with the DynamoDB operation", async (_, overrides) => {
      const event = facts(overrides);

      const error = await ledger.claim(event).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(LedgerRejectedError);
      expect(error).toMatchObject({ operation: "claim", dynamoOperation: "UpdateItem", cause: { name: "ValidationException" } });
      expect(await ledgerReader(client, tableName).list({ type: event.type })).not.toContainEqual(expect.objectContaining({ id: event.id }));
    });

    it("on reads and listings surface as LedgerUnavailableError too, naming the ledger's step", async () => {
      const missing = createLedger(client, "no-such-table", { now: () => clock });

      const errors = await Promise.all([
        missing.get(newEventId()).catch((caught: unknown) => caught),
        missing.list().catch((caught: unknown) => caught),
        missing.readAppItem({ pk: "app#permissions#x" }).catch((caught: unknown) => caught),
      ]);

      expect(errors.map((error) => error instanceof LedgerUnavailableError && error.operation)).toEqual(["read", "list", "app item read"]);
      for (const error of errors) expect((error as LedgerUnavailableError).cause).toMatchObject({ name: "ResourceNotFoundException" });
    });

    it("on completion surface as LedgerUnavailableError, not as a lost lease", async () => {
      const missing = createLedger(client, "no-such-table", { now: () => clock });
      const entry = { id: newEventId(), type: "invoice.paid", status: "processing" as const, attempts: 1, firstSeenAt: "" };

      await expect(missing.complete(entry, "x")).rejects.toBeInstanceOf(LedgerUnavailableError);
    });
  });

  describe("list", () => {
    let listTable: string;
    const ids = { old: newEventId(), middle: newEventId(), newest: newEventId() };

    beforeAll(async () => {
      listTable = await engine().createLedgerTable();
      const at = (ms: number) => createLedger(client, listTable, { now: () => start + ms });
      const old = await at(0).claim(facts({ id: ids.old }));
      if (old.kind === "claimed") await at(100).complete(old.entry, "ok");
      await at(1000).recordIgnored(facts({ id: ids.middle, type: "customer.created" }));
      const newest = await at(2000).claim(facts({ id: ids.newest }));
      if (newest.kind === "claimed") await at(2100).fail(newest.entry, "Error: boom");
    });

    it("lists every entry, newest first, with its status and attempts", async () => {
      const entries = await ledgerReader(client, listTable).list();

      expect(entries.map((entry) => [entry.id, entry.status, entry.attempts])).toEqual([
        [ids.newest, "failed", 1],
        [ids.middle, "ignored", 1],
        [ids.old, "processed", 1],
      ]);
      expect(entries[0]).toMatchObject({ type: "invoice.paid", firstSeenAt: new Date(start + 2000).toISOString(), lastError: "Error: boom" });
      expect(entries[2]?.processedAt).toBe(new Date(start + 100).toISOString());
    });

    it("filters by status and by type, and limits the count", async () => {
      expect((await ledgerReader(client, listTable).list({ status: "processed" })).map((entry) => entry.id)).toEqual([ids.old]);
      expect((await ledgerReader(client, listTable).list({ type: "invoice.paid" })).map((entry) => entry.id)).toEqual([ids.newest, ids.old]);
      expect((await ledgerReader(client, listTable).list({ limit: 1 })).map((entry) => entry.id)).toEqual([ids.newest]);
    });
  });
});
