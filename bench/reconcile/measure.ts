import { createWebhookApp } from "@stripe-webhooks/core/app";
import { eventCatalog } from "@stripe-webhooks/core/catalog";
import type { HandlerRegistry } from "@stripe-webhooks/core/dispatch";
import { reconcile } from "@stripe-webhooks/core/reconcile";
import { createStripeClient } from "@stripe-webhooks/core/stripe-api";
import { buildEvent, newEventId } from "@stripe-webhooks/stripe-fixtures/events";
import { startStripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { defineMeasurement } from "../shared/measurement.ts";
import { summarize, type Summary } from "../shared/stats.ts";
import { ratio as ratioOf, spread } from "../shared/table.ts";

/*
 * The reconciler's throughput: one run over a backlog of events the webhook never delivered,
 * against the test kit's double of Stripe's API (Stripe cannot be reached here), with the real
 * `stripe` SDK and core's reconciler over the bench's dynalite. Its API request rate is what a
 * real run would ask of Stripe's read limits, which the double does not impose.
 */

export interface ReconcileResults {
  events: number;
  eventsPerSecond: Summary;
  apiRequestsPerSecond: Summary;
  apiRequestsPerRun: number;
}

const apiKey = "rk_test_benchReconcile";
const endpointId = "we_benchReconcile";
// Stripe's published read limits per second (test mode, live mode).
const readLimits = { test: 25, live: 100 };

// Handlers that do nothing but return: the run's own cost, not the example handlers' API calls.
const registry = Object.fromEntries(
  eventCatalog.map((type) => [type, async () => ({ outcome: "bench" })]),
) as unknown as HandlerRegistry;

export const reconcileMeasurement = defineMeasurement({
  name: "reconcile",
  method: `**7 Reconciler** (\`bench/reconcile/\`). One reconciler run, in this process, over a backlog of catalog events
  that never reached the webhook (each listed by both of the run's listings), against the test kit's double of Stripe's
  API on loopback and the bench's dynalite: each event costs a ledger read, a claim and a completion. Repeated on a
  fresh table and backlog. The API rate is the run's requests to the double per second; Stripe's read limits (25/s in
  test mode, 100/s in live mode) are not imposed by the double, so the ratio says how close a real run would come.`,
  async run(bench) {
    const events = bench.smoke ? 30 : 300;
    const runs = bench.smoke ? 1 : 5;
    const perSecond: number[] = [];
    const apiPerSecond: number[] = [];
    let apiRequestsPerRun = 0;
    for (let run = 0; run < runs; run += 1) {
      bench.progress(`reconcile: run ${run + 1} of ${runs}`);
      const nowSeconds = Math.floor(Date.now() / 1000);
      const double = await startStripeApiDouble({ apiKeys: [apiKey] });
      try {
        double.setEndpoint({ id: endpointId, status: "enabled", created: nowSeconds - 86_400 });
        for (let index = 0; index < events; index += 1) {
          const type = eventCatalog[index % eventCatalog.length] ?? "invoice.paid";
          double.addEvent(buildEvent(type, { id: newEventId(), created: nowSeconds - 600 - index }), { delivered: false });
        }
        const tableName = await bench.engine.createLedgerTable(`bench-reconcile-${run}`);
        const dynamo = bench.engine.client();
        const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
        const app = createWebhookApp({ dynamo, settings: () => ({ tableName, mode: "test" }), registry, logger });
        const stripe = createStripeClient({ apiKey, apiBase: double.url });
        const before = double.requestCount();
        const started = performance.now();
        const report = await reconcile({ stripe, app, logger, endpointId, settings: { maxEvents: events } });
        const seconds = (performance.now() - started) / 1000;
        dynamo.destroy();
        if (report.recovered !== events) throw new Error(`reconcile: recovered ${report.recovered} of ${events}`);
        const requests = double.requestCount() - before;
        apiRequestsPerRun = requests;
        perSecond.push(events / seconds);
        apiPerSecond.push(requests / seconds);
      } finally {
        await double.close();
      }
    }
    const results: ReconcileResults = {
      events,
      eventsPerSecond: summarize(perSecond),
      apiRequestsPerSecond: summarize(apiPerSecond),
      apiRequestsPerRun,
    };
    const rate = results.apiRequestsPerSecond.median;
    return {
      results,
      rows: [
        {
          section: 7,
          measure: `Reconciler: one run over ${events} undelivered events (Stripe API double, dynalite), events/s`,
          values: { ours: spread(results.eventsPerSecond) },
          target: "report",
        },
        {
          section: 7,
          measure: `… its requests to Stripe's API (${apiRequestsPerRun} per run), per second, against the read limit (25/s test, 100/s live)`,
          values: { ours: spread(results.apiRequestsPerSecond) },
          target: `report (${ratioOf(rate / readLimits.test)} of the test-mode limit, ${ratioOf(rate / readLimits.live)} of the live one)`,
        },
      ],
    };
  },
});
