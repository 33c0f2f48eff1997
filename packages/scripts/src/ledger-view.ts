import { isLeaseLive, type LedgerEntry } from "@stripe-webhooks/core/ledger";
import { formatTable } from "./table.ts";

/*
 * What `npm run events` prints, kept apart from the tool so it can be tested without a
 * process: the entries table, the lease state of an entry, and the counts of `--summary`.
 */

/**
 * The statuses the tools show, in pipeline order. Typed as strings rather than checked against
 * LedgerStatus so that a status the ledger gains (`queued`, with the queue) is listed here
 * first and counted, whichever side lands first.
 */
export const ledgerStatuses: readonly string[] = ["queued", "processing", "processed", "failed", "ignored"];

/** What the table shows by default: enough to see what just happened, short enough to read. */
export const defaultEntryLimit = 50;

/**
 * Whether a `processing` entry is still held by a delivery (`in-flight`) or was abandoned by
 * one that stopped before recording a result (`lease-expired`: the next delivery, reconcile
 * run or replay takes it over). Undefined for the settled statuses.
 */
export function leaseState(entry: LedgerEntry, now: number): "in-flight" | "lease-expired" | undefined {
  if (entry.status !== "processing") return undefined;
  return isLeaseLive(entry, now) ? "in-flight" : "lease-expired";
}

/**
 * Whether the queue consumer gave up on the entry's event and moved it to the dead-letter queue:
 * it failed and is still failed. A redriven event that then succeeds keeps the ledger's
 * deadLetteredAt but is no longer dead-lettered.
 */
export function deadLettered(entry: LedgerEntry): boolean {
  return entry.status === "failed" && entry.deadLetteredAt !== undefined;
}

function statusCell(entry: LedgerEntry, now: number): string {
  if (deadLettered(entry)) return "failed (dead-lettered)";
  return leaseState(entry, now) === "lease-expired" ? "processing (lease expired)" : entry.status;
}

/** `2026-01-02T03:04:05.678Z` -> `2026-01-02 03:04:05Z`: second precision reads better. */
function time(iso: string | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : "-";
}

/** The entries as a table, every value escaped; `now` (epoch ms) decides which leases expired. */
export function entriesTable(entries: readonly LedgerEntry[], now: number): string {
  const header = ["ID", "TYPE", "STATUS", "ATTEMPTS", "FIRST SEEN", "PROCESSED AT", "LAST ERROR"];
  const rows = entries.map((entry) => [
    entry.id,
    entry.type,
    statusCell(entry, now),
    String(entry.attempts),
    time(entry.firstSeenAt),
    time(entry.processedAt),
    entry.lastError ?? "-",
  ]);
  return formatTable(header, rows);
}

/** The counts of one type (or of all), by status: only the statuses it has. */
export interface StatusCounts {
  total: number;
  byStatus: Map<string, number>;
}

/** The counts `--summary` prints: all entries by status, each type by status, expired leases. */
export interface Summary {
  total: number;
  /** Every status of {@link ledgerStatuses}, zero or not, then any other the entries hold. */
  byStatus: Map<string, number>;
  /** Sorted by type. A Map, because a type is any string a signed event carried, `__proto__` included. */
  byType: Map<string, StatusCounts>;
  /** Entries `processing` whose lease expired (counted in `processing` too). */
  leaseExpired: number;
  /** Entries `failed` whose event is in the dead-letter queue (counted in `failed` too). */
  deadLettered: number;
}

/** Counts the entries by status and by type; `now` (epoch ms) decides which leases expired. */
export function summarize(entries: readonly LedgerEntry[], now: number): Summary {
  const byStatus = new Map(ledgerStatuses.map((status) => [status, 0]));
  const byType = new Map<string, StatusCounts>();
  const add = (counts: Map<string, number>, status: string) => counts.set(status, (counts.get(status) ?? 0) + 1);
  let leaseExpired = 0;
  let dead = 0;
  for (const entry of entries) {
    add(byStatus, entry.status);
    if (leaseState(entry, now) === "lease-expired") leaseExpired += 1;
    if (deadLettered(entry)) dead += 1;
    const counts = byType.get(entry.type) ?? { total: 0, byStatus: new Map<string, number>() };
    counts.total += 1;
    add(counts.byStatus, entry.status);
    byType.set(entry.type, counts);
  }
  const sorted = [...byType].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { total: entries.length, byStatus, byType: new Map(sorted), leaseExpired, deadLettered: dead };
}

/**
 * The summary as `--summary --json` prints it. `Object.fromEntries` defines each type as an own
 * property, so a type named `__proto__` is a key like any other, never the object's prototype.
 */
export function summaryJson(summary: Summary): string {
  const byType = [...summary.byType].map(([type, counts]) => [type, { total: counts.total, ...Object.fromEntries(counts.byStatus) }]);
  const json = {
    total: summary.total,
    byStatus: Object.fromEntries(summary.byStatus),
    byType: Object.fromEntries(byType),
    leaseExpired: summary.leaseExpired,
    deadLettered: summary.deadLettered,
  };
  return JSON.stringify(json, null, 2);
}

/** The summary as a table: one row per type, then the totals; a column per status. */
export function summaryTable(summary: Summary): string {
  const statuses = [...summary.byStatus.keys()];
  const header = ["TYPE", "TOTAL", ...statuses.map((status) => status.toUpperCase())];
  const row = (name: string, total: number, counts: Map<string, number>) => [
    name,
    String(total),
    ...statuses.map((status) => String(counts.get(status) ?? 0)),
  ];
  const rows = [...summary.byType].map(([type, counts]) => row(type, counts.total, counts.byStatus));
  return formatTable(header, [...rows, row("(all types)", summary.total, summary.byStatus)]);
}

/**
 * The line after a table with abandoned entries: what an expired lease means and what takes the
 * entry over. Undefined when there are none.
 */
export function leaseExpiredNote(count: number): string | undefined {
  if (count === 0) return undefined;
  const entries = count === 1 ? "1 entry is" : `${count} entries are`;
  return (
    `${entries} processing with an expired lease: the delivery that claimed it stopped before recording a result. ` +
    "Stripe's next retry, `npm run reconcile` or `npm run replay -- <evt_...>` takes it over."
  );
}

/**
 * The line after a table with dead-lettered entries: what it means and the runbook's two steps.
 * Undefined when there are none.
 */
export function deadLetteredNote(count: number): string | undefined {
  if (count === 0) return undefined;
  const entries = count === 1 ? "1 entry is" : `${count} entries are`;
  return (
    `${entries} failed (dead-lettered): the queue consumer gave up after its handler failed too many times, and the event waits in the dead-letter queue. ` +
    "Fix what its LAST ERROR says, then `npm run redrive` sends it back to the queue."
  );
}

/** The line after the entries table: how many were shown, and how to see the rest. */
export function shownLine(shown: number, total: number): string {
  const noun = total === 1 ? "entry" : "entries";
  if (shown >= total) return `${total} ${noun}, newest first`;
  return `${shown} of ${total} ${noun}, newest first; ${total - shown} more: --limit N shows more, --all shows every one`;
}
