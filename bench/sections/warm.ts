import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SizeName, UnitCostInput, UnitCosts, WarmEvents } from "../child/protocol.ts";
import { deliveryHeaders, functionUrlEvent, largePayload, smallPayload } from "../events.ts";
import { runReporting, startWarm, type WarmProcess } from "../processes.ts";
import { pairedRatios, rotation, summarize, type Summary } from "../stats.ts";
import { byVariant, variants, type VariantName } from "../variants.ts";
import type { Workbench } from "../workbench.ts";

/*
 * 3 and 6. Warm CPU per event without DynamoDB I/O: one warm process per variant, all alive at
 * once, driven round by round in a rotating order so the rounds of each variant are measured
 * side by side (see child/warm.ts for what a round is). Ratios are per round against the floor.
 */

export interface WarmResults {
  /** Body size of the events of each size, in bytes. */
  payloadBytes: Record<SizeName, number>;
  cpuMicrosPerEvent: Record<SizeName, Record<VariantName, Summary>>;
  /** Per-round CPU ÷ the floor's CPU in the same round. */
  toFloor: Record<SizeName, Record<VariantName, Summary>>;
  /** DynamoDB commands replayed per event (what the handler would have sent). */
  commandsPerEvent: Record<SizeName, Record<VariantName, number>>;
  /** Peak RSS of each warm process after all its rounds (50 KB events included), MiB. */
  maxRssMiB: Record<VariantName, number>;
  /** CPU of single operations, to explain the differences (child/unit-costs.ts). */
  unitCosts: UnitCosts;
}

const sizes: SizeName[] = ["small", "large"];

function eventsFor(bench: Workbench, name: VariantName): string {
  const events: WarmEvents = {
    small: Array.from({ length: bench.config.warmEvents.small }, () => functionUrlEvent(smallPayload(), bench.secret)),
    large: Array.from({ length: bench.config.warmEvents.large }, () => functionUrlEvent(largePayload(), bench.secret)),
  };
  const file = join(bench.dir, `warm-${name}.json`);
  writeFileSync(file, JSON.stringify(events));
  return file;
}

async function measureUnitCosts(bench: Workbench): Promise<UnitCosts> {
  bench.progress("warm: unit costs");
  const signed = (payload: { id: string; type: string; body: string }) => ({
    body: payload.body,
    header: deliveryHeaders(payload, bench.secret)["stripe-signature"] ?? "",
  });
  const input: UnitCostInput = {
    secret: bench.secret,
    small: signed(smallPayload()),
    large: signed(largePayload()),
    rounds: bench.config.smoke ? 2 : 11,
    iterations: bench.config.smoke ? 20 : 300,
  };
  const file = join(bench.dir, "unit-costs.json");
  writeFileSync(file, JSON.stringify(input));
  const { report } = await runReporting<UnitCosts>(bench.harness.unitCosts, [file], bench.env("ours"));
  return report;
}

export async function measureWarmCpu(bench: Workbench): Promise<WarmResults> {
  bench.progress("warm: recording each handler's DynamoDB results");
  const processes = new Map<VariantName, WarmProcess>();
  try {
    for (const variant of variants) {
      const file = eventsFor(bench, variant.name);
      processes.set(variant.name, await startWarm(bench.harness.warm, bench.replayBundles[variant.name].file, file, bench.env(variant.name)));
    }
    const cpu = Object.fromEntries(sizes.map((size) => [size, byVariant((): number[] => [])])) as Record<
      SizeName,
      Record<VariantName, number[]>
    >;
    const commands = Object.fromEntries(sizes.map((size) => [size, byVariant(() => 0)])) as Record<
      SizeName,
      Record<VariantName, number>
    >;
    for (let round = 0; round < bench.config.warmRounds; round += 1) {
      bench.progress(`warm round ${round + 1}/${bench.config.warmRounds}`);
      for (const size of sizes) {
        for (const variant of rotation(variants, round)) {
          const worker = processes.get(variant.name);
          if (!worker) continue;
          const result = await worker.round(size);
          cpu[size][variant.name].push(result.cpuMicros / result.events);
          commands[size][variant.name] = result.replayedCommands / result.events;
        }
      }
    }
    const maxRssMiB = byVariant(() => 0);
    for (const [name, worker] of processes) maxRssMiB[name] = (await worker.stop()) / 1024;
    processes.clear();
    const unitCosts = await measureUnitCosts(bench);
    return {
      unitCosts,
      payloadBytes: { small: smallPayload().body.length, large: largePayload().body.length },
      cpuMicrosPerEvent: Object.fromEntries(
        sizes.map((size) => [size, byVariant((name) => summarize(cpu[size][name]))]),
      ) as WarmResults["cpuMicrosPerEvent"],
      toFloor: Object.fromEntries(
        sizes.map((size) => [size, byVariant((name) => summarize(pairedRatios(cpu[size][name], cpu[size].floor)))]),
      ) as WarmResults["toFloor"],
      commandsPerEvent: commands,
      maxRssMiB,
    };
  } finally {
    // Only reached with processes left when a round failed: do not leave them running.
    for (const worker of processes.values()) await worker.stop().catch(() => 0);
  }
}
