import { HandlerFailedError, errorSummary } from "@stripe-webhooks/core/errors";
import type { LedgerEntry } from "@stripe-webhooks/core/ledger";
import { describeOutcome } from "@stripe-webhooks/core/outcomes";
import { replayEvent, type ReplayResult } from "@stripe-webhooks/core/replay";
import { parseLedgerToolCli, runMain, UsageError } from "./cli.ts";
import { resolveDataDir } from "./data-dir.ts";
import { openOperatorApp } from "./operator-app.ts";
import { printable } from "./table.ts";

/*
 * `npm run replay -- evt_...`: fetches one event from Stripe's API and runs it through the same
 * path as a delivery, against the local receiver's ledger (or a stage's, under `sst shell`).
 * A processed event is left alone unless --force asks for its handler to run again.
 */

const usage = `Usage: npm run replay -- <evt_...> [options]

Options:
  --force          run the handler again even if the event is already processed (recorded as
                   a forced run); never while another delivery holds the event
  --json           print what happened as JSON
  --data-dir DIR   the local receiver's data directory [DATA_DIR, default .data/local]
Stripe: STRIPE_API_KEY (test mode) and STRIPE_API_BASE, as for npm run reconcile.
For a deployed stage: npx sst shell --stage <name> -- npm run replay -- evt_...
Exits 0 when the event ends up handled (processed, already processed, or ignored), 1 otherwise.`;

/** What happened, as --json prints it. */
interface ReplaySummary {
  eventId: string;
  /** `already_settled` when refused, else the outcome table's code (`processed`, `handler_failed`...). */
  result: string;
  forced: boolean;
  /** Our own summary of the failure, secrets masked; only when the run failed. */
  error?: string;
  /** The event's ledger entry afterwards. */
  entry: LedgerEntry | undefined;
}

function summarize(eventId: string, replay: ReplayResult, entry: LedgerEntry | undefined): ReplaySummary {
  if (replay.kind === "refused") return { eventId, result: "already_settled", forced: false, entry };
  const { result } = replay;
  const summary: ReplaySummary = { eventId, result: describeOutcome(result).code, forced: replay.forced, entry };
  if (!result.ok) {
    const { error } = result;
    summary.error = errorSummary(error instanceof HandlerFailedError ? error.cause : error);
  }
  return summary;
}

function time(iso: string | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : "-";
}

function describe(summary: ReplaySummary): string {
  const { eventId, entry } = summary;
  const type = entry ? ` (${printable(entry.type)})` : "";
  const attempts = entry ? `attempt ${entry.attempts}` : "";
  switch (summary.result) {
    case "already_settled":
      return (
        `${eventId}${type} is already ${entry?.status ?? "settled"} (processed ${time(entry?.processedAt)}, ` +
        `${entry?.attempts ?? 0} attempts): not run again. --force runs its handler again.`
      );
    case "processed":
      return summary.forced
        ? `${eventId}${type}: handler run again (forced run ${entry?.forcedRuns ?? 1}, ${attempts}), processed`
        : `${eventId}${type}: processed by this replay (${attempts})`;
    case "duplicate":
      return `${eventId}${type}: already processed by another delivery meanwhile; nothing ran`;
    case "ignored":
      return `${eventId}${type}: not in the event catalog; recorded as ignored`;
    case "in_progress":
    case "lease_lost":
      return `${eventId}${type}: another delivery holds the event right now; nothing ran. Try again in a minute.`;
    case "handler_failed":
      return `${eventId}${type}: the handler failed (${printable(summary.error ?? "no detail")}); recorded failed (${attempts})`;
    default:
      return `${eventId}${type}: ${summary.result}${summary.error ? ` (${printable(summary.error)})` : ""}`;
  }
}

const handled = new Set(["already_settled", "processed", "duplicate", "ignored"]);

async function main(): Promise<number> {
  const parsed = parseLedgerToolCli({ force: { type: "boolean", default: false } }, usage, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [eventId, ...extra] = positionals;
  if (eventId === undefined || extra.length > 0) throw new UsageError(`give exactly one event id\n\n${usage}`);
  if (!/^evt_[A-Za-z0-9_]+$/.test(eventId)) throw new UsageError(`"${printable(eventId)}" is not a Stripe event id (evt_...)`);

  const target = await openOperatorApp({ dataDir: resolveDataDir(values["data-dir"]) });
  try {
    const replay = await replayEvent({ stripe: target.stripe, app: target.app }, eventId, { force: values.force });
    // A run that stopped on the ledger itself has nothing to read back.
    const entry =
      replay.kind === "refused" ? replay.entry : await target.app.stage().ledger.get(eventId).catch(() => undefined);
    const summary = summarize(eventId, replay, entry);
    console.log(values.json ? JSON.stringify(summary, null, 2) : describe(summary));
    return handled.has(summary.result) ? 0 : 1;
  } finally {
    await target.close();
  }
}

runMain(main);
