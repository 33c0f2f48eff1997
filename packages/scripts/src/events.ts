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
  --json           print a JSON array instead of a table
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

async function main(): Promise<number> {
  const { values } = parseCli(
    {
      options: {
        json: { type: "boolean", default: false },
        status: { type: "string" },
        type: { type: "string" },
        limit: { type: "string" },
        "data-dir": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: false,
      strict: true,
    },
    usage,
  );
  if (values.help) {
    console.log(usage);
    return 0;
  }
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
    if (values.json) {
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
