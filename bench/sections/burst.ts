import { join } from "node:path";
import { deliveryOrder, runBurst, type BurstRun } from "../burst/burst.ts";
import { handlerEnvironment } from "../environment.ts";
import { catalogPayloads } from "../events.ts";
import { pairedRatios, summarize, type Summary } from "../stats.ts";
import { variants, type VariantName } from "../variants.ts";
import type { Workbench } from "../workbench.ts";

/*
 * 5. Bursts through the local receiver: ours and the Powertools baseline, each behind its own
 * fresh receiver, alternately first, on the same deliveries in the same order. The ratio is
 * taken pair by pair.
 */

export type BurstVariant = Extract<VariantName, "ours" | "powertools">;

export interface BurstResults {
  deliveries: number;
  distinct: number;
  concurrency: number;
  deliveriesPerSecond: Record<BurstVariant, Summary>;
  /** Per pair: ours ÷ powertools. */
  oursToPowertools: Summary;
  runs: Record<BurstVariant, BurstRun[]>;
}

export async function measureBursts(bench: Workbench): Promise<BurstResults> {
  const { pairs, deliveries, distinct, concurrency } = bench.config.burst;
  const payloads = catalogPayloads(distinct);
  const runs: Record<BurstVariant, BurstRun[]> = { ours: [], powertools: [] };
  for (let pair = 0; pair < pairs; pair += 1) {
    const order = deliveryOrder(payloads, deliveries, pair + 1);
    const sides: BurstVariant[] = pair % 2 === 0 ? ["ours", "powertools"] : ["powertools", "ours"];
    for (const name of sides) {
      bench.progress(`burst ${pair + 1}/${pairs}: ${name}`);
      const variant = variants.find((v) => v.name === name);
      if (!variant) throw new Error(`no variant ${name}`);
      runs[name].push(
        await runBurst({
          bundle: bench.bundles[name].file,
          keyAttribute: variant.keyAttribute,
          // The receiver starts its own dynalite and sets the endpoint and table itself.
          env: handlerEnvironment({ name, endpoint: "", tableName: "", secret: bench.secret, logLevel: "INFO" }),
          order,
          secret: bench.secret,
          concurrency,
          logFile: join(bench.dir, `burst-${name}-${pair}.log`),
        }),
      );
    }
  }
  const rate = (name: BurstVariant) => runs[name].map((run) => run.deliveriesPerSecond);
  return {
    deliveries,
    distinct,
    concurrency,
    deliveriesPerSecond: { ours: summarize(rate("ours")), powertools: summarize(rate("powertools")) },
    oursToPowertools: summarize(pairedRatios(rate("ours"), rate("powertools"))),
    runs,
  };
}
