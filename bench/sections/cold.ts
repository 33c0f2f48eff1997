import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { functionUrlEvent, smallPayload } from "../events.ts";
import { runCold } from "../processes.ts";
import { pairedRatios, rotation, summarize, type Summary } from "../stats.ts";
import { byVariant, probes, variants, type ProbeName, type VariantName } from "../variants.ts";
import type { Workbench } from "../workbench.ts";

/*
 * 1 and 6. Cold start: per run, every variant (and every probe) in a fresh `node` process, in
 * an order rotated from run to run; ratios are taken run by run against the floor of the same
 * run. Peak RSS is the process's maximum resident set once its first event is answered.
 */

export interface ColdResults {
  /** Spawn to first response, as the bench sees it (Node's own start-up included). */
  totalMs: Record<VariantName, Summary>;
  importMs: Record<VariantName, Summary>;
  firstEventMs: Record<VariantName, Summary>;
  /** Per-run totalMs ÷ the floor's totalMs in the same run. */
  totalToFloor: Record<VariantName, Summary>;
  importToFloor: Record<VariantName, Summary>;
  /** Import time of single dependencies of ours, each bundled alone. */
  probeImportMs: Record<ProbeName, Summary>;
  maxRssMiB: Record<VariantName, Summary>;
}

type Series = Record<"total" | "import" | "firstEvent" | "rss", number[]>;

function emptySeries(): Series {
  return { total: [], import: [], firstEvent: [], rss: [] };
}

export async function measureColdStarts(bench: Workbench): Promise<ColdResults> {
  const series = byVariant(emptySeries);
  const probeSeries = Object.fromEntries(probes.map((p) => [p.name, [] as number[]])) as Record<ProbeName, number[]>;
  type Job = { kind: "variant"; name: VariantName } | { kind: "probe"; name: ProbeName };
  const jobs: Job[] = [
    ...variants.map((v): Job => ({ kind: "variant", name: v.name })),
    ...probes.map((p): Job => ({ kind: "probe", name: p.name })),
  ];

  async function coldStart(name: VariantName): Promise<Awaited<ReturnType<typeof runCold>>> {
    // A new event every time: a first invocation handles a new event, not a duplicate.
    const eventFile = join(bench.dir, `cold-${name}.json`);
    writeFileSync(eventFile, JSON.stringify(functionUrlEvent(smallPayload(), bench.secret)));
    const result = await runCold(bench.harness.cold, bench.bundles[name].file, eventFile, bench.env(name));
    if (result.report.statusCode !== 200) throw new Error(`cold ${name}: first event answered ${result.report.statusCode}`);
    return result;
  }

  // One unmeasured start each, so no variant pays for reading its bundle from disk first.
  for (const variant of variants) await coldStart(variant.name);

  for (let run = 0; run < bench.config.coldRuns; run += 1) {
    bench.progress(`cold start run ${run + 1}/${bench.config.coldRuns}`);
    for (const job of rotation(jobs, run)) {
      if (job.kind === "probe") {
        const { report } = await runCold(bench.harness.cold, bench.probeBundles[job.name].file, undefined, bench.env("ours"));
        probeSeries[job.name].push(report.importMs);
        continue;
      }
      const { report, elapsedMs } = await coldStart(job.name);
      const s = series[job.name];
      s.total.push(elapsedMs);
      s.import.push(report.importMs);
      s.firstEvent.push(report.firstEventMs);
      s.rss.push(report.maxRssKiB / 1024);
    }
  }

  return {
    totalMs: byVariant((name) => summarize(series[name].total)),
    importMs: byVariant((name) => summarize(series[name].import)),
    firstEventMs: byVariant((name) => summarize(series[name].firstEvent)),
    totalToFloor: byVariant((name) => summarize(pairedRatios(series[name].total, series.floor.total))),
    importToFloor: byVariant((name) => summarize(pairedRatios(series[name].import, series.floor.import))),
    probeImportMs: Object.fromEntries(
      probes.map((p) => [p.name, summarize(probeSeries[p.name])]),
    ) as Record<ProbeName, Summary>,
    maxRssMiB: byVariant((name) => summarize(series[name].rss)),
  };
}
