import { join } from "node:path";
import { handlerEnvironment } from "../shared/environment.ts";
import { catalogPayloads } from "../shared/events.ts";
import { defineMeasurement } from "../shared/measurement.ts";
import { pairedRatios, summarize, type Summary } from "../shared/stats.ts";
import { ratio, spread, verdict } from "../shared/table.ts";
import { variant, type VariantName } from "../shared/variants.ts";
import { deliveryOrder, runBurst, type BurstRun } from "./burst.ts";

/*
 * Bursts through the local receiver: ours and the Powertools baseline, each behind its own
 * fresh receiver, alternately first, on the same deliveries in the same order. The ratio is
 * taken pair by pair.
 */

type BurstVariant = Extract<VariantName, "ours" | "powertools">;

export interface BurstResults {
  deliveries: number;
  distinct: number;
  concurrency: number;
  deliveriesPerSecond: Record<BurstVariant, Summary>;
  /** Per pair: ours ÷ powertools. */
  oursToPowertools: Summary;
  runs: Record<BurstVariant, BurstRun[]>;
}

export const burst = defineMeasurement({
  name: "burst",
  method: `**5 Burst** (\`bench/burst/\`). \`npm start\` always loads the real handler, so \`bench/burst/server.ts\` builds
  the same receiver from \`packages/scripts\`' \`createReceiverServer\` (its HTTP handling, function URL
  mapping, Lambda context and timeout) around a chosen bundle, with an in-process in-memory dynalite as
  \`npm start --memory\` has. Same deliveries, same order, for both, redeliveries of random events mixed in;
  each delivery signed when sent. Each handler shares one thread with the receiver and dynalite. Work that
  ran is counted from the handlers' JSON log lines naming an event (not the summary line).`,
  async run(bench) {
    const { pairs, deliveries, distinct, concurrency } = bench.smoke
      ? { pairs: 1, deliveries: 50, distinct: 40, concurrency: 4 }
      : { pairs: 5, deliveries: 1000, distinct: 800, concurrency: 16 };
    const payloads = catalogPayloads(distinct);
    const runs: Record<BurstVariant, BurstRun[]> = { ours: [], powertools: [] };
    for (let pair = 0; pair < pairs; pair += 1) {
      const order = deliveryOrder(payloads, deliveries, pair + 1);
      const sides: BurstVariant[] = pair % 2 === 0 ? ["ours", "powertools"] : ["powertools", "ours"];
      for (const name of sides) {
        bench.progress(`burst ${pair + 1}/${pairs}: ${name}`);
        runs[name].push(
          await runBurst({
            bundle: bench.bundles[name].file,
            keyAttribute: variant(name).keyAttribute,
            // The receiver starts its own dynalite and table and points the handler at them.
            env: handlerEnvironment({ name, secret: bench.secret, logLevel: "INFO" }),
            order,
            secret: bench.secret,
            concurrency,
            logFile: join(bench.dir, `burst-${name}-${pair}.log`),
          }),
        );
      }
    }
    const rate = (name: BurstVariant) => runs[name].map((run) => run.deliveriesPerSecond);
    const results: BurstResults = {
      deliveries,
      distinct,
      concurrency,
      deliveriesPerSecond: { ours: summarize(rate("ours")), powertools: summarize(rate("powertools")) },
      oursToPowertools: summarize(pairedRatios(rate("ours"), rate("powertools"))),
      runs,
    };
    const total = (name: BurstVariant, pick: (run: BurstRun) => number) => runs[name].reduce((sum, run) => sum + pick(run), 0);
    const ranTwice = { ours: total("ours", (run) => run.ranMoreThanOnce), powertools: total("powertools", (run) => run.ranMoreThanOnce) };
    return {
      results,
      rows: [
        {
          section: 5,
          measure: `Burst via the local receiver: ${deliveries} deliveries of ${distinct} events, ${concurrency} concurrent, deliveries/s`,
          values: { ours: spread(results.deliveriesPerSecond.ours), powertools: spread(results.deliveriesPerSecond.powertools) },
          ratios: { oursToPowertools: ratio(results.oursToPowertools) },
          target: "report",
        },
        {
          section: 5,
          measure: `Events whose work ran more than once / never (over ${pairs} bursts)`,
          values: {
            ours: `${ranTwice.ours} / ${total("ours", (run) => run.neverRan)}`,
            powertools: `${ranTwice.powertools} / ${total("powertools", (run) => run.neverRan)}`,
          },
          target: verdict(ranTwice.ours === 0, `ours 0: ${ranTwice.ours}`),
        },
      ],
    };
  },
});
