import type { BenchResults } from "./results.ts";
import type { BurstResults, BurstVariant } from "./sections/burst.ts";
import type { Summary } from "./stats.ts";
import { variants, type VariantName } from "./variants.ts";

/*
 * The report: one markdown table (printed, and written to BENCHMARKS.md with the date, Node
 * version and machine) and a short reading generated from the same numbers, so the text can
 * never disagree with the table it sits under.
 */

const names = variants.map((v) => v.name);

export function number(value: number, digits: number): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds and microseconds: whole numbers from 100 up, one decimal below. */
export function amount(value: number): string {
  return number(value, Math.abs(value) >= 100 ? 0 : 1);
}

function spread(summary: Summary, format: (value: number) => string = amount): string {
  return `${format(summary.median)} (${format(summary.p25)}–${format(summary.p75)})`;
}

function ratio(summary: Summary): string {
  return spread(summary, (value) => number(value, 2));
}

function verdict(met: boolean, detail: string): string {
  return met ? `met (${detail})` : `**missed** (${detail})`;
}

interface Row {
  section: string;
  measure: string;
  values: Record<VariantName, string>;
  oursToFloor: string;
  naiveToFloor: string;
  oursToPowertools: string;
  target: string;
}

const dash = "–";

function row(section: string, measure: string, values: Partial<Record<VariantName, string>>, rest: Partial<Row> = {}): Row {
  return {
    section,
    measure,
    values: Object.fromEntries(names.map((name) => [name, values[name] ?? dash])) as Record<VariantName, string>,
    oursToFloor: rest.oursToFloor ?? dash,
    naiveToFloor: rest.naiveToFloor ?? dash,
    oursToPowertools: rest.oursToPowertools ?? dash,
    target: rest.target ?? dash,
  };
}

function each<T>(make: (name: VariantName) => T | undefined): Partial<Record<VariantName, T>> {
  const result: Partial<Record<VariantName, T>> = {};
  for (const name of names) {
    const value = make(name);
    if (value !== undefined) result[name] = value;
  }
  return result;
}

/** Whether each target holds; the reading and the smoke test both use this. */
export function targets(results: BenchResults) {
  const { cold, warm, requests, burst, bundles } = results;
  const oursRequests = requests.ours.likeDynamoDb;
  const ranTwice = (name: BurstVariant) => burst.runs[name].reduce((sum, run) => sum + run.ranMoreThanOnce, 0);
  return {
    coldStart: cold.totalToFloor.ours.median <= 1.4,
    bundle: bundles.ours.bytes / bundles.powertools.bytes < 0.5,
    warmSmall: warm.toFloor.small.ours.median <= 1.3,
    warmLarge: warm.toFloor.large.ours.median <= 1.3,
    requestsNew: oursRequests.newEvent.every((count) => count === 2),
    requestsDuplicate: oursRequests.duplicate.every((count) => count === 1),
    ranMoreThanOnce: { ours: ranTwice("ours"), powertools: ranTwice("powertools") },
  };
}

function rows(results: BenchResults): Row[] {
  const { cold, warm, requests, burst, bundles } = results;
  const met = targets(results);
  const kib = (bytes: number) => `${number(bytes / 1024, 1)} KiB`;
  const counts = (list: number[]) => {
    const distinct = [...new Set(list)];
    return distinct.length === 1 ? `${distinct[0]} (all ${list.length})` : `${list.join(", ")}`;
  };
  const bundleRatio = bundles.ours.bytes / bundles.powertools.bytes;
  const burstRuns = (name: BurstVariant) => burst.runs[name];
  const sumRuns = (name: BurstVariant, pick: (run: BurstResults["runs"]["ours"][number]) => number) =>
    burstRuns(name).reduce((sum, run) => sum + pick(run), 0);
  return [
    row("1", "Cold start: spawn → first response, ms", each((n) => spread(cold.totalMs[n])), {
      oursToFloor: ratio(cold.totalToFloor.ours),
      naiveToFloor: ratio(cold.totalToFloor.naive),
      target: verdict(met.coldStart, `ours ≤ 1.4 × floor: ${number(cold.totalToFloor.ours.median, 2)}`),
    }),
    row("1", "… of which import of the bundle, ms", each((n) => spread(cold.importMs[n])), {
      oursToFloor: ratio(cold.importToFloor.ours),
      naiveToFloor: ratio(cold.importToFloor.naive),
    }),
    row("1", "… of which first event (2 KB, new), ms", each((n) => spread(cold.firstEventMs[n]))),
    row("2", "Bundle, minified, bytes (gzip)", each((n) => `${number(bundles[n].bytes, 0)} (${number(bundles[n].gzipBytes, 0)})`), {
      oursToFloor: number(bundles.ours.bytes / bundles.floor.bytes, 2),
      naiveToFloor: number(bundles.naive.bytes / bundles.floor.bytes, 2),
      oursToPowertools: number(bundleRatio, 2),
      target: verdict(met.bundle, `ours < 0.5 × powertools: ${number(bundleRatio, 2)}`),
    }),
    row(
      "2",
      "… built with SST's `nodejs.splitting`: loaded at import / all chunks, bytes",
      each((n) => `${number(results.splitBundles[n].loadedBytes, 0)} / ${number(results.splitBundles[n].totalBytes, 0)}`),
      {
        oursToFloor: number(results.splitBundles.ours.loadedBytes / results.splitBundles.floor.loadedBytes, 2),
        naiveToFloor: number(results.splitBundles.naive.loadedBytes / results.splitBundles.floor.loadedBytes, 2),
        oursToPowertools: number(results.splitBundles.ours.loadedBytes / results.splitBundles.powertools.loadedBytes, 2),
      },
    ),
    ...(["small", "large"] as const).map((size) =>
      row(
        "3",
        `Warm CPU per event, ${kib(warm.payloadBytes[size])} event, µs`,
        each((n) => spread(warm.cpuMicrosPerEvent[size][n])),
        {
          oursToFloor: ratio(warm.toFloor[size].ours),
          naiveToFloor: ratio(warm.toFloor[size].naive),
          oursToPowertools: number(
            warm.cpuMicrosPerEvent[size].ours.median / warm.cpuMicrosPerEvent[size].powertools.median,
            2,
          ),
          target: verdict(
            size === "small" ? met.warmSmall : met.warmLarge,
            `ours ≤ 1.3 × floor: ${number(warm.toFloor[size].ours.median, 2)}`,
          ),
        },
      ),
    ),
    row("4", "DynamoDB requests per new event", each((n) => counts(requests[n].likeDynamoDb.newEvent)), {
      target: verdict(met.requestsNew, "ours 2"),
    }),
    row(
      "4",
      "DynamoDB requests per duplicate (on plain dynalite)",
      each((n) => `${counts(requests[n].likeDynamoDb.duplicate)} (${counts(requests[n].plainDynalite.duplicate)})`),
      { target: verdict(met.requestsDuplicate, "ours 1") },
    ),
    row(
      "5",
      `Burst via the local receiver: ${burst.deliveries} deliveries of ${burst.distinct} events, ${burst.concurrency} concurrent, deliveries/s`,
      { ours: spread(burst.deliveriesPerSecond.ours), powertools: spread(burst.deliveriesPerSecond.powertools) },
      { oursToPowertools: ratio(burst.oursToPowertools), target: "report" },
    ),
    row(
      "5",
      `Events whose work ran more than once / never (over ${burstRuns("ours").length} bursts)`,
      {
        ours: `${met.ranMoreThanOnce.ours} / ${sumRuns("ours", (run) => run.neverRan)}`,
        powertools: `${met.ranMoreThanOnce.powertools} / ${sumRuns("powertools", (run) => run.neverRan)}`,
      },
      { target: verdict(met.ranMoreThanOnce.ours === 0, `ours 0: ${met.ranMoreThanOnce.ours}`) },
    ),
    row("6", "Peak RSS, cold process after its first event, MiB", each((n) => spread(cold.maxRssMiB[n])), {
      oursToFloor: number(cold.maxRssMiB.ours.median / cold.maxRssMiB.floor.median, 2),
      oursToPowertools: number(cold.maxRssMiB.ours.median / cold.maxRssMiB.powertools.median, 2),
      target: "report",
    }),
    row("6", "Peak RSS, warm process after all rounds (one process), MiB", each((n) => amount(warm.maxRssMiB[n])), {
      target: "report",
    }),
  ];
}

/** The results table in markdown. */
export function renderTable(results: BenchResults): string {
  const header = ["#", "Measure", ...names, "ours ÷ floor", "naive ÷ floor", "ours ÷ powertools", "Target"];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => " --- ").join("|")}|`];
  for (const r of rows(results)) {
    const cells = [r.section, r.measure, ...names.map((n) => r.values[n]), r.oursToFloor, r.naiveToFloor, r.oursToPowertools, r.target];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Date, Node version and machine, one line. */
export function renderMachine(results: BenchResults): string {
  const m = results.machine;
  return `${results.date}, Node ${m.node}, ${m.cpu}, ${m.cores} cores, ${number(m.memoryGiB, 1)} GiB, ${m.os}; the run took ${results.durationSeconds} s.`;
}
