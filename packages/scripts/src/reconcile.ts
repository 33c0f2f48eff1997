import type Stripe from "stripe";
import { reconcile, type ReconcileReport, type ReconcileSettings } from "@stripe-webhooks/core/reconcile";
import { classifyStripeError } from "@stripe-webhooks/core/stripe-api";
import { parseCount, parseLedgerToolCli, runMain } from "./cli.ts";
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
  "stripe-unavailable": "stopped: Stripe's API did not complete a request (rate limit, timeout or 5xx); the next run resumes",
  "ledger-unavailable": "stopped: the ledger could not be read or written; the next run resumes",
  "queue-unavailable": "stopped: the queue did not take an event; the next run sends it again",
};

/** Where the tool's Stripe client sends its requests (operator-app reads the same variable). */
function apiBase(): string {
  return process.env.STRIPE_API_BASE || "https://api.stripe.com";
}

// What the Node error codes of a connection that never opened mean, in a user's words.
const unreachableReasons: Record<string, string> = {
  ENOTFOUND: "the host name does not resolve (DNS)",
  EAI_AGAIN: "the host name could not be resolved (DNS)",
  EAI_FAIL: "the host name could not be resolved (DNS)",
  ECONNREFUSED: "the connection was refused: nothing listens there",
  EHOSTUNREACH: "no route to the host",
  ENETUNREACH: "the network is unreachable",
};

/**
 * Why Stripe's API cut the run short, when it is that the host could not be reached. The report
 * says only that Stripe was unavailable, so one more request, without retries, finds out: a
 * connection that cannot even be opened names a wrong STRIPE_API_BASE or a network problem, not
 * a Stripe that asked to back off. Undefined when the host answers (or fails otherwise).
 */
async function unreachableCause(stripe: Stripe): Promise<string | undefined> {
  try {
    await stripe.events.list({ limit: 1 }, { maxNetworkRetries: 0 });
    return undefined;
  } catch (error) {
    if (classifyStripeError(error).kind !== "unreachable") return undefined;
    const detail = error instanceof Error && "detail" in error ? error.detail : undefined;
    const code = detail instanceof Error && "code" in detail && typeof detail.code === "string" ? detail.code : "";
    const reason = unreachableReasons[code] ?? "no connection could be opened";
    const check = process.env.STRIPE_API_BASE ? "check STRIPE_API_BASE and the network" : "check the network (DNS, proxy, firewall)";
    return `stopped: Stripe's API at ${apiBase()} could not be reached (${code || "connection"}: ${reason}); ${check}. The next run resumes`;
  }
}

function describe(report: ReconcileReport, ledger: string, stripe: string, stopCause: string | undefined): string {
  const { endpoint } = report;
  const endpointLine = endpoint
    ? `${endpoint.id} ${endpoint.status === "disabled" ? "DISABLED by Stripe: no deliveries until it is re-enabled" : endpoint.status} (created ${time(endpoint.created)})`
    : "none given: Stripe's 30-day horizon bounds the window";
  const { window } = report;
  const result = stopCause ?? (report.stoppedBy ? stopReasons[report.stoppedBy] : "complete");
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
  return report.stoppedBy === "stripe-unavailable" || report.stoppedBy === "ledger-unavailable" || report.stoppedBy === "queue-unavailable";
}

async function main(): Promise<number> {
  const parsed = parseLedgerToolCli(
    { endpoint: { type: "string" }, "max-events": { type: "string" }, "grace-seconds": { type: "string" } },
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
      logger: target.logger,
      endpointId: target.endpointId,
      settings,
    });
    const stopCause = report.stoppedBy === "stripe-unavailable" ? await unreachableCause(target.stripe) : undefined;
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      // stdout stays the report alone, parseable; the cause goes beside it.
      if (stopCause) console.error(stopCause);
    } else {
      console.log(describe(report, target.ledger.description, target.stripeDescription, stopCause));
    }
    return needsAttention(report) ? 1 : 0;
  } finally {
    await target.close();
  }
}

runMain(main);
