import { reconcile, type ReconcileReport, type ReconcileSettings } from "@stripe-webhooks/core/reconcile";
import { parseCli, parseCount, runMain } from "./cli.ts";
import { resolveDataDir } from "./data-dir.ts";
import { openOperatorApp } from "./operator-app.ts";

/*
 * `npm run reconcile`: one reconciler run against the local receiver's ledger (or, under
 * `sst shell --stage <name>`, the stage's), with the same core code the deployed schedule runs:
 * Stripe's Events API lists what the webhook should have handled, and whatever the ledger has
 * not settled is processed once.
 */

const usage = `Usage: npm run reconcile -- [options]

Options:
  --endpoint we_...   the webhook endpoint whose events these are: its creation bounds the
                      window and its status is reported [STRIPE_WEBHOOK_ENDPOINT_ID; none locally]
  --max-events N      process at most N events in this run (default 500)
  --grace-seconds N   leave events younger than this to the webhook (default 300)
  --json              print the run's report as JSON
  --data-dir DIR      the local receiver's data directory [DATA_DIR, default .data/local]
Stripe: STRIPE_API_KEY (test mode: sk_test_... or rk_test_...), STRIPE_API_BASE (e.g.
http://127.0.0.1:12111 for a local double or stripe-mock; default Stripe's API).
For a deployed stage, with its own key, endpoint and ledger:
  npx sst shell --stage <name> -- npm run reconcile
Exits 0 when the run completed or stopped at a bound, 1 when the endpoint is disabled, a handler
failed, Stripe or the ledger cut the run short, or the setup is wrong (key, endpoint, ledger).`;

/** Epoch seconds as `2026-01-02 03:04:05Z`. */
function time(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

const stopReasons: Record<NonNullable<ReconcileReport["stoppedBy"]>, string> = {
  "max-events": "stopped at --max-events; the next run continues",
  "max-duration": "stopped at the run's time limit; the next run continues",
  "stripe-unavailable": "stopped: Stripe's API asked to back off (rate limit, timeout, 5xx); the next run resumes",
  "ledger-unavailable": "stopped: the ledger could not be read or written; the next run resumes",
};

function describe(report: ReconcileReport, ledger: string, stripe: string): string {
  const { endpoint } = report;
  const endpointLine = endpoint
    ? `${endpoint.id} ${endpoint.status === "disabled" ? "DISABLED by Stripe: no deliveries until it is re-enabled" : endpoint.status} (created ${time(endpoint.created)})`
    : "none given: Stripe's 30-day horizon bounds the window";
  const { window } = report;
  const result = report.stoppedBy ? stopReasons[report.stoppedBy] : "complete";
  return [
    `Ledger     ${ledger}`,
    `Stripe     ${stripe}`,
    `Endpoint   ${endpointLine}`,
    `Window     events created ${time(window.from)} to ${time(window.to)}`,
    `Examined   ${report.examined} events: ${report.recovered} recovered, ${report.settled} already settled, ` +
      `${report.failed} failed, ${report.inProgress} in progress elsewhere`,
    `Result     ${result}`,
    `Watermark  ${report.watermark === undefined ? "none yet (set by the first complete run)" : time(report.watermark)}`,
  ].join("\n");
}

/** Whether the run left something an operator should look at. */
function needsAttention(report: ReconcileReport): boolean {
  if (report.endpoint?.status === "disabled" || report.failed > 0) return true;
  return report.stoppedBy === "stripe-unavailable" || report.stoppedBy === "ledger-unavailable";
}

async function main(): Promise<number> {
  const parsed = parseCli(
    {
      options: {
        endpoint: { type: "string" },
        "max-events": { type: "string" },
        "grace-seconds": { type: "string" },
        json: { type: "boolean", default: false },
        "data-dir": { type: "string" },
      },
      allowPositionals: false,
      strict: true,
    },
    usage,
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const settings: Partial<ReconcileSettings> = {};
  if (values["max-events"] !== undefined) settings.maxEvents = parseCount(values["max-events"], "--max-events", 0, 1);
  if (values["grace-seconds"] !== undefined) {
    settings.graceSeconds = parseCount(values["grace-seconds"], "--grace-seconds", 0);
  }

  const target = await openOperatorApp({ dataDir: resolveDataDir(values["data-dir"]), endpoint: values.endpoint });
  try {
    const report = await reconcile({
      stripe: target.stripe,
      app: target.app,
      dynamo: target.dynamo,
      logger: target.logger,
      endpointId: target.endpointId,
      settings,
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : describe(report, target.ledger.description, target.stripeDescription));
    return needsAttention(report) ? 1 : 0;
  } finally {
    await target.close();
  }
}

runMain(main);
