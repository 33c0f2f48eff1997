import type { LedgerEntry } from "@stripe-webhooks/core/ledger";
import { describe, expect, it } from "vitest";
import { deadLetteredNote, entriesTable, summarize, summaryJson } from "../src/ledger-view.ts";

/* What `npm run events` shows of queued processing: queued entries, and which failed ones are dead-lettered. */

const now = Date.parse("2026-03-01T12:00:00Z");

function entry(id: string, fields: Partial<LedgerEntry>): LedgerEntry {
  return { id, type: "invoice.paid", status: "processed", attempts: 1, firstSeenAt: "2026-03-01T11:00:00.000Z", ...fields };
}

const entries: LedgerEntry[] = [
  entry("evt_queued", { status: "queued", attempts: 0, queuedAt: "2026-03-01T11:00:00.000Z" }),
  entry("evt_dead", { status: "failed", attempts: 5, lastError: "HandlerFailedError: boom", deadLetteredAt: "2026-03-01T11:30:00.000Z" }),
  entry("evt_failed", { status: "failed", attempts: 1, lastError: "HandlerFailedError: once" }),
  // Redriven after its dead letter, then processed: history, no longer dead-lettered.
  entry("evt_redriven", { status: "processed", attempts: 6, deadLetteredAt: "2026-03-01T11:30:00.000Z" }),
];

function statusOf(table: string, id: string): string | undefined {
  const line = table.split("\n").find((row) => row.startsWith(`${id} `));
  return line?.split(/ {2,}/)[2];
}

describe("events: queued and dead-lettered entries", () => {
  it("shows a failed entry the consumer dead-lettered as such, and no other", () => {
    const table = entriesTable(entries, now);

    expect(statusOf(table, "evt_queued")).toBe("queued");
    expect(statusOf(table, "evt_dead")).toBe("failed (dead-lettered)");
    expect(statusOf(table, "evt_failed")).toBe("failed");
    expect(statusOf(table, "evt_redriven")).toBe("processed");
  });

  it("counts dead-lettered entries within failed, in the summary and its JSON", () => {
    const summary = summarize(entries, now);

    expect(summary.deadLettered).toBe(1);
    expect(summary.byStatus.get("failed")).toBe(2);
    expect(summary.byStatus.get("queued")).toBe(1);
    expect(JSON.parse(summaryJson(summary))).toMatchObject({ total: 4, deadLettered: 1, byStatus: { queued: 1, failed: 2 } });
  });

  it("says what a dead letter means and how to send it back, only when there is one", () => {
    expect(deadLetteredNote(0)).toBeUndefined();
    expect(deadLetteredNote(2)).toMatch(/^2 entries are failed \(dead-lettered\):.*npm run redrive/);
  });
});
