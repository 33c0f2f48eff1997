import { listLedgerEntries, type LedgerEntry, type LedgerStatus } from "@stripe-webhooks/core/ledger";
import { parseCli, parseCount, runMain, UsageError } from "./cli.ts";
import { resolveDataDir } from "./data-dir.ts";
import { findLedger } from "./ledger-target.ts";

/*
 * `npm run events`: the ledger's entries, newest first, from the local receiver or (under
 * `sst shell --stage <name>`) a deployed stage.
 */

const statuses = ["processing", "processed", "failed", "ignored"] as const satisfies readonly LedgerStatus[];

const usage = `Usage: npm run events -- [options]

Options:
  --status S       only entries with this status (${statuses.join(", ")})
  --type T         only events of this type, e.g. invoice.paid
  --limit N        at most N entries (the newest)
  --summary        counts by status and by type instead of the entries
  --json           print a JSON array (with --summary, the counts) instead of a table
  --data-dir DIR   the local receiver's data directory [DATA_DIR, default .data/local]
Reads a deployed stage's ledger when run as: npx sst shell --stage <name> -- npm run events`;

function isStatus(value: string): value is LedgerStatus {
  return (statuses as readonly string[]).includes(value);
}

/** `2026-01-02T03:04:05.678Z` -> `2026-01-02 03:04:05Z`: second precision reads better. */
function time(iso: string | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : "-";
}

function table(entries: readonly LedgerEntry[]): string {
  const header = ["ID", "TYPE", "STATUS", "ATTEMPTS", "FIRST SEEN", "PROCESSED AT", "LAST ERROR"];
  const rows = entries.map((entry) => [
    entry.id,
    entry.type,
    entry.status,
    String(entry.attempts),
    time(entry.firstSeenAt),
    time(entry.processedAt),
    entry.lastError ?? "-",
  ]);
  // The last column is left unpadded: errors vary in length and end the line anyway.
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** The counts `--summary` prints: all entries by status, and each type by status. */
interface Summary {
  total: number;
  byStatus: Record<LedgerStatus, number>;
  byType: Record<string, { total: number } & Partial<Record<LedgerStatus, number>>>;
}

function summarize(entries: readonly LedgerEntry[]): Summary {
  const byStatus: Record<LedgerStatus, number> = { processing: 0, processed: 0, failed: 0, ignored: 0 };
  const byType: Summary["byType"] = {};
  for (const entry of entries) {
    byStatus[entry.status] += 1;
    const counts = (byType[entry.type] ??= { total: 0 });
    counts.total += 1;
    counts[entry.status] = (counts[entry.status] ?? 0) + 1;
  }
  const sorted = Object.entries(byType).sort(([a], [b]) => a.localeCompare(b));
  return { total: entries.length, byStatus, byType: Object.fromEntries(sorted) };
}

function summaryTable(summary: Summary): string {
  const header = ["TYPE", "TOTAL", ...statuses.map((status) => status.toUpperCase())];
  const row = (name: string, total: number, counts: Partial<Record<LedgerStatus, number>>) => [
    name,
    String(total),
    ...statuses.map((status) => String(counts[status] ?? 0)),
  ];
  const rows = [
    ...Object.entries(summary.byType).map(([type, counts]) => row(type, counts.total, counts)),
    row("(all types)", summary.total, summary.byStatus),
  ];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((cells) => cells[column]?.length ?? 0)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

async function main(): Promise<number> {
  const parsed = parseCli(
    {
      options: {
        json: { type: "boolean", default: false },
        status: { type: "string" },
        type: { type: "string" },
        limit: { type: "string" },
        summary: { type: "boolean", default: false },
        "data-dir": { type: "string" },
      },
      allowPositionals: false,
      strict: true,
    },
    usage,
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const status = values.status;
  if (status !== undefined && !isStatus(status)) {
    throw new UsageError(`--status must be one of ${statuses.join(", ")}, got "${status}"`);
  }
  const limit = values.limit === undefined ? undefined : parseCount(values.limit, "--limit", 0, 1);

  const ledger = await findLedger(resolveDataDir(values["data-dir"]));
  try {
    const entries = await listLedgerEntries(ledger.client, ledger.tableName, {
      ...(status === undefined ? {} : { status }),
      ...(values.type === undefined ? {} : { type: values.type }),
      ...(limit === undefined ? {} : { limit }),
    });
    if (values.summary) {
      const summary = summarize(entries);
      if (values.json) {
        console.log(JSON.stringify(summary, null, 2));
      } else {
        console.log(`Ledger: ${ledger.description}`);
        console.log(summaryTable(summary));
        console.log(`${summary.total} ${summary.total === 1 ? "entry" : "entries"}`);
      }
    } else if (values.json) {
      console.log(JSON.stringify(entries, null, 2));
    } else {
      console.log(`Ledger: ${ledger.description}`);
      console.log(entries.length === 0 ? "(no entries)" : table(entries));
      console.log(`${entries.length} ${entries.length === 1 ? "entry" : "entries"}, newest first`);
    }
  } finally {
    await ledger.close();
  }
  return 0;
}

runMain(main);
