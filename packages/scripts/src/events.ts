import { createLedger, type LedgerStatus } from "@stripe-webhooks/core/ledger";
import { parseCount, parseLedgerToolCli, runMain, UsageError } from "./cli.ts";
import { resolveDataDir } from "./data-dir.ts";
import { findLedger } from "./ledger-target.ts";
import {
  deadLettered,
  deadLetteredNote,
  defaultEntryLimit,
  entriesTable,
  leaseExpiredNote,
  ledgerStatuses,
  shownLine,
  summarize,
  summaryJson,
  summaryTable,
} from "./ledger-view.ts";
import { printable } from "./table.ts";

/*
 * `npm run events`: the ledger's entries, newest first, from the local receiver or (under
 * `sst shell --stage <name>`) a deployed stage.
 */

const usage = `Usage: npm run events -- [options]

Options:
  --status S       only entries with this status (${ledgerStatuses.join(", ")})
  --dead-lettered  only failed entries whose event the queue consumer moved to the dead-letter
                   queue (shown as "failed (dead-lettered)"; npm run redrive sends them back)
  --type T         only events of this type, e.g. invoice.paid
  --limit N        at most N entries, the newest (the table's default: ${defaultEntryLimit})
  --all            every entry (the default with --json)
  --summary        counts by status and by type instead of the entries
  --json           print a JSON array (with --summary, the counts) instead of a table
  --data-dir DIR   the local receiver's data directory [DATA_DIR, default .data/local]
Reads a deployed stage's ledger when run as: npx sst shell --stage <name> -- npm run events`;

function isStatus(value: string): value is LedgerStatus {
  return (ledgerStatuses as readonly string[]).includes(value);
}

async function main(): Promise<number> {
  const parsed = parseLedgerToolCli(
    {
      status: { type: "string" },
      type: { type: "string" },
      limit: { type: "string" },
      all: { type: "boolean", default: false },
      summary: { type: "boolean", default: false },
      "dead-lettered": { type: "boolean", default: false },
    },
    usage,
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const status = values["dead-lettered"] && values.status === undefined ? "failed" : values.status;
  if (status !== undefined && !isStatus(status)) {
    throw new UsageError(`--status must be one of ${ledgerStatuses.join(", ")}, got "${printable(status)}"`);
  }
  if (values["dead-lettered"] && status !== "failed") {
    throw new UsageError(`--dead-lettered entries are failed ones: drop --status ${printable(status ?? "")}, or give --status failed`);
  }
  if (values.all && values.limit !== undefined) throw new UsageError("give --limit or --all, not both");
  const limit = values.limit === undefined ? undefined : parseCount(values.limit, "--limit", 0, 1);

  const ledger = await findLedger(resolveDataDir(values["data-dir"]));
  try {
    // The whole filtered list, so the table can say how many it left out.
    const listed = await createLedger(ledger.client, ledger.tableName).list({
      ...(status === undefined ? {} : { status }),
      ...(values.type === undefined ? {} : { type: values.type }),
    });
    const entries = values["dead-lettered"] ? listed.filter(deadLettered) : listed;
    const now = Date.now();
    if (values.summary) {
      const summary = summarize(limit === undefined ? entries : entries.slice(0, limit), now);
      if (values.json) {
        console.log(summaryJson(summary));
        return 0;
      }
      console.log(`Ledger: ${ledger.description}`);
      console.log(summaryTable(summary));
      console.log(`${summary.total} ${summary.total === 1 ? "entry" : "entries"}`);
      for (const note of [leaseExpiredNote(summary.leaseExpired), deadLetteredNote(summary.deadLettered)]) if (note) console.log(note);
      return 0;
    }
    // A script reading --json gets every entry unless it asks for fewer; a person, the newest page.
    const shown = entries.slice(0, limit ?? (values.all || values.json ? entries.length : defaultEntryLimit));
    if (values.json) {
      console.log(JSON.stringify(shown, null, 2));
      return 0;
    }
    console.log(`Ledger: ${ledger.description}`);
    console.log(shown.length === 0 ? "(no entries)" : entriesTable(shown, now));
    console.log(shownLine(shown.length, entries.length));
    const counted = summarize(shown, now);
    for (const note of [leaseExpiredNote(counted.leaseExpired), deadLetteredNote(counted.deadLettered)]) if (note) console.log(note);
    return 0;
  } finally {
    await ledger.close();
  }
}

runMain(main);
