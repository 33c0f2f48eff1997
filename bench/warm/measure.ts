import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildHandler } from "../shared/build.ts";
import { deliveryHeaders, functionUrlEvent, largePayload, smallPayload, type Payload } from "../shared/events.ts";
import { defineMeasurement } from "../shared/measurement.ts";
import { runReporting } from "../shared/processes.ts";
import { pairedRatios, summarize, type Summary } from "../shared/stats.ts";
import { amount, kib, perVariant, ratio, spread, verdict } from "../shared/table.ts";
import { byVariant, variants, type VariantName } from "../shared/variants.ts";
import type { Workbench } from "../shared/workbench.ts";
import type { SizeName, UnitCostInput, UnitCosts, WarmEvents } from "./protocol.ts";
import { buildReplayHandler, buildWarmHarness, interleavedRounds, pinnableCpu, roundPlans, startWarm, type RoundPlan, type RoundSeries, type WarmProcess } from "./session.ts";

/*
 * Warm CPU per event without DynamoDB I/O (and the peak RSS of a warm process). All variants
 * run in one process, each replaying its own recorded DynamoDB results (child.ts); the runner
 * interleaves their batches, the order rotated every batch. Separate processes drifted apart
 * for seconds at a time (each with its own collector's phases and its own place on the CPUs),
 * so ratios of their rounds spread widely however the rounds were cut.
 */

interface WarmPlan {
  /** Each size's rounds (session.ts). */
  sizes: Record<SizeName, RoundPlan>;
  /** Events of each size a variant runs alone in a process of its own for its peak RSS. */
  rssEvents: Record<SizeName, number>;
}

function warmPlan(smoke: boolean): WarmPlan {
  return { sizes: roundPlans(smoke), rssEvents: smoke ? { small: 8, large: 4 } : { small: 1000, large: 200 } };
}

/** A figure per round and its summary over the rounds. */
interface PerRound {
  summary: Summary;
  rounds: number[];
}

export interface WarmResults {
  plan: WarmPlan;
  /** The CPU the warm processes were pinned to, or null where they could not be. */
  pinnedCpu: number | null;
  /** Body size of the events of each size, in bytes. */
  payloadBytes: Record<SizeName, number>;
  /** Per round: the variant's median batch, CPU µs per event. */
  cpuMicrosPerEvent: Record<SizeName, Record<VariantName, PerRound>>;
  /** Per round: the variant's median batch ÷ the floor's in the same round. */
  toFloor: Record<SizeName, Record<VariantName, PerRound>>;
  /** Per round: ours' median batch ÷ powertools' in the same round. */
  oursToPowertools: Record<SizeName, PerRound>;
  /** Per round: all of the variant's CPU in the round ÷ its events, collections included. */
  meanMicrosPerEvent: Record<SizeName, Record<VariantName, PerRound>>;
  meanToFloor: Record<SizeName, Record<VariantName, PerRound>>;
  /** DynamoDB commands replayed per event (what the handler would have sent). */
  commandsPerEvent: Record<SizeName, Record<VariantName, number>>;
  /** Peak RSS of a process running only that variant, after its rssEvents, MiB. */
  maxRssMiB: Record<VariantName, number>;
  /** CPU of single operations, to explain the differences (unit-costs.ts). */
  unitCosts: UnitCosts;
}

const sizes: SizeName[] = ["small", "large"];
const payloadOf: Record<SizeName, () => Payload> = { small: () => smallPayload(), large: () => largePayload() };

async function measureUnitCosts(bench: Workbench): Promise<UnitCosts> {
  bench.progress("warm: unit costs");
  // Bundled like a handler, since it measures the same packages as they run in one.
  const script = (await buildHandler("bench/warm/unit-costs.ts", join(bench.dir, "unit-costs.mjs"))).file;
  const signed = (payload: Payload) => ({ body: payload.body, header: deliveryHeaders(payload, bench.secret)["stripe-signature"] ?? "" });
  const input: UnitCostInput = {
    secret: bench.secret,
    small: signed(smallPayload()),
    large: signed(largePayload()),
    rounds: bench.smoke ? 2 : 11,
    iterations: bench.smoke ? 20 : 300,
  };
  const file = join(bench.dir, "unit-costs.json");
  writeFileSync(file, JSON.stringify(input));
  const { report } = await runReporting<UnitCosts>(script, [file], bench.env("ours"));
  return report;
}

function perRound(rounds: number[]): PerRound {
  return { summary: summarize(rounds), rounds };
}

/** Per-round ratios of one series to another measured in the same rounds. */
function ratios(of: readonly number[], to: readonly number[]): PerRound {
  return perRound(pairedRatios(of, to));
}

async function measureWarm(bench: Workbench): Promise<WarmResults> {
  const plan = warmPlan(bench.smoke);
  const harness = await buildWarmHarness(bench.dir);
  const built = await Promise.all(
    variants.map(async (v) => [v.name, await buildReplayHandler(v.entry, join(bench.dir, `${v.name}.replay.mjs`))] as const),
  );
  const bundles = Object.fromEntries(built) as Record<VariantName, string>;
  // The same events for every variant: the same work, each against its own table.
  const events = Object.fromEntries(
    sizes.map((size) => [size, Array.from({ length: plan.sizes[size].distinct }, () => functionUrlEvent(payloadOf[size](), bench.secret))]),
  ) as WarmEvents;
  const names = variants.map((v) => v.name);
  const start = (cpu: number | undefined, only: readonly VariantName[]): Promise<WarmProcess> =>
    startWarm({
      dir: bench.dir,
      harness,
      cpu,
      handlers: only.map((name) => ({ name, bundle: bundles[name], env: bench.env(name) })),
      events,
      env: bench.env("ours"),
    });

  bench.progress("warm: recording each handler's DynamoDB results");
  const cpu = pinnableCpu();
  const shared = await start(cpu, names);
  const series: Partial<Record<SizeName, RoundSeries<VariantName>>> = {};
  try {
    // One size at a time, each warmed up on its own events.
    for (const size of sizes) {
      series[size] = await interleavedRounds(shared, names, size, plan.sizes[size], (message) => bench.progress(`warm ${message}`));
    }
  } finally {
    await shared.stop().catch(() => 0);
  }
  const measured = (size: SizeName): RoundSeries<VariantName> => {
    const found = series[size];
    if (!found) throw new Error(`warm: no rounds of ${size} events`);
    return found;
  };

  // Peak RSS needs a process per variant; these run the same events, unmeasured otherwise.
  // Unpinned: with its collector's threads confined to one CPU, a heap grows differently.
  const maxRssMiB = byVariant(() => 0);
  for (const name of names) {
    bench.progress(`warm: peak RSS of ${name} alone`);
    const alone = await start(undefined, [name]);
    try {
      for (const size of sizes) {
        for (let done = 0; done < plan.rssEvents[size]; done += plan.sizes[size].batchEvents) await alone.batch(name, size, plan.sizes[size].batchEvents);
      }
    } finally {
      maxRssMiB[name] = (await alone.stop().catch(() => 0)) / 1024;
    }
  }

  const bySize = <T>(make: (size: SizeName) => T) => ({ small: make("small"), large: make("large") });
  return {
    plan,
    pinnedCpu: cpu ?? null,
    payloadBytes: { small: smallPayload().body.length, large: largePayload().body.length },
    cpuMicrosPerEvent: bySize((size) => byVariant((name) => perRound(measured(size).medians[name]))),
    toFloor: bySize((size) => byVariant((name) => ratios(measured(size).medians[name], measured(size).medians.floor))),
    oursToPowertools: bySize((size) => ratios(measured(size).medians.ours, measured(size).medians.powertools)),
    meanMicrosPerEvent: bySize((size) => byVariant((name) => perRound(measured(size).means[name]))),
    meanToFloor: bySize((size) => byVariant((name) => ratios(measured(size).means[name], measured(size).means.floor))),
    commandsPerEvent: bySize((size) => measured(size).commandsPerEvent),
    maxRssMiB,
    unitCosts: await measureUnitCosts(bench),
  };
}

const cpuLimit = 1.3;
const spreadLimit = 0.2;

function width(summary: Summary): number {
  return summary.p75 - summary.p25;
}

export const warm = defineMeasurement({
  name: "warm",
  method: `**3, 6 Warm CPU** (\`bench/warm/\`). One process holds all four variants, each bundle imported with its own
  environment (and its own copy of every module). Each runs every event once against dynalite while
  recording what every DynamoDB command returned, then replays those results: a first middleware answers
  each command before it is serialized, so no request is built, signed, sent or parsed (the same bundles
  as deployed but for that middleware). The runner then asks for batches of a few events, one variant at a
  time, rotating the order every batch, so the variants share one CPU, its caches and one heap, and a slow
  spell or a collection cannot favour one of them; the process is pinned to one CPU (\`taskset\`, where it
  exists) so it keeps its caches between batches. \`process.cpuUsage()\` is read around a batch, never
  around one event. Each size is warmed up on thousands of events first, as a warm container has been, and
  those are thrown away. A round is many interleaved batches; a variant's figure for it is its median batch,
  which is the handler's own work (most batches run without a collection or an interruption); its ratios
  are the ratios of medians in the same round, and the target holds the ratio's p25–p75 spread too. The
  "all included" row divides all of the round's CPU by its events instead, collections included, as
  earlier versions of this bench did for every round. Unit costs time single operations (an
  SDK send answered before serializing, one Logger line, a signature check) in a process of their own.
  Peak RSS is taken from a process running one variant alone over the same events, unpinned.`,
  async run(bench) {
    const results = await measureWarm(bench);
    const { cpuMicrosPerEvent, toFloor, meanMicrosPerEvent, meanToFloor, plan, unitCosts: unit } = results;
    const sizeRows = sizes.flatMap((size) => {
      const oursToFloor = toFloor[size].ours.summary;
      const met = oursToFloor.median <= cpuLimit && width(oursToFloor) < spreadLimit;
      return [
        {
          section: 3,
          measure: `Warm CPU per event, ${kib(results.payloadBytes[size])} event (median batch of ${plan.sizes[size].batchEvents}), µs`,
          values: perVariant((n) => spread(cpuMicrosPerEvent[size][n].summary)),
          ratios: {
            oursToFloor: ratio(oursToFloor),
            naiveToFloor: ratio(toFloor[size].naive.summary),
            oursToPowertools: ratio(results.oursToPowertools[size].summary),
          },
          target: verdict(
            met,
            `ours ≤ ${cpuLimit} × floor with a spread < ${spreadLimit}: ${ratio(oursToFloor.median)}, spread ${ratio(width(oursToFloor))}`,
          ),
        },
        {
          section: 3,
          measure: "… all included (the round's CPU ÷ its events), µs",
          values: perVariant((n) => spread(meanMicrosPerEvent[size][n].summary)),
          ratios: { oursToFloor: ratio(meanToFloor[size].ours.summary), naiveToFloor: ratio(meanToFloor[size].naive.summary) },
          target: "report",
        },
      ];
    });
    return {
      results,
      rows: [
        ...sizeRows,
        {
          section: 3,
          measure: "… DynamoDB commands per event (replayed)",
          values: perVariant((n) => amount(results.commandsPerEvent.small[n])),
        },
        {
          section: 3,
          measure: "… one DynamoDB send up to serializing (ours: `cacheMiddleware`; floor: the default client), µs",
          values: { ours: amount(unit.sdkSendCached), floor: amount(unit.sdkSendDefault) },
        },
        { section: 3, measure: "… one Logger line, µs", values: { ours: amount(unit.loggerLine) } },
        {
          section: 3,
          measure: "… signature check, small / large event (ours: stripe's `constructEvent`; floor: by hand), µs",
          values: {
            ours: `${amount(unit.stripeVerifySmall)} / ${amount(unit.stripeVerifyLarge)}`,
            floor: `${amount(unit.handVerifySmall)} / ${amount(unit.handVerifyLarge)}`,
          },
        },
        {
          section: 6,
          measure: `Peak RSS, warm process after ${plan.rssEvents.small} small and ${plan.rssEvents.large} large events, MiB`,
          values: perVariant((n) => amount(results.maxRssMiB[n])),
          target: "report",
        },
      ],
    };
  },
});
