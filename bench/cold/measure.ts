import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildHandler, buildHarness } from "../shared/build.ts";
import { functionUrlEvent, smallPayload } from "../shared/events.ts";
import { defineMeasurement } from "../shared/measurement.ts";
import { runReporting } from "../shared/processes.ts";
import { pairedRatios, rotation, summarize, type Summary } from "../shared/stats.ts";
import { amount, kib, perVariant, ratio, spread, verdict } from "../shared/table.ts";
import { byVariant, variants, type VariantName } from "../shared/variants.ts";
import type { ColdReport } from "./child.ts";

/*
 * Cold start (and the peak RSS of a cold process): per run, every variant and every probe in a
 * fresh `node` process, in an order rotated from run to run; ratios are taken run by run
 * against the floor of the same run, so a slow spell on the machine hits both sides.
 */

/** Dependencies of ours, each bundled alone, to attribute its import time. */
const probes = [
  {
    name: "dynamodb",
    label: "DynamoDB client",
    // The client with the commands ours sends; the floor pays for this too.
    source: `import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
export const client = new DynamoDBClient({});
export const commands = [GetItemCommand, UpdateItemCommand];`,
  },
  {
    name: "stripe",
    label: "`stripe`",
    // What core's signature check imports: the whole package.
    source: `import Stripe from "stripe";\nexport const webhooks = Stripe.webhooks;`,
  },
  {
    name: "logger",
    label: "Logger",
    // What createLogger() makes at module scope in the handler.
    source: `import { Logger } from "@aws-lambda-powertools/logger";\nexport const logger = new Logger({ serviceName: "probe" });`,
  },
] as const;

type ProbeName = (typeof probes)[number]["name"];

export interface ColdResults {
  firstEventBytes: number;
  /** Spawn to first response, as the bench sees it (Node's own start-up included). */
  totalMs: Record<VariantName, Summary>;
  importMs: Record<VariantName, Summary>;
  firstEventMs: Record<VariantName, Summary>;
  /** Per-run totalMs ÷ the floor's totalMs in the same run. */
  totalToFloor: Record<VariantName, Summary>;
  importToFloor: Record<VariantName, Summary>;
  probeImportMs: Record<ProbeName, Summary>;
  maxRssMiB: Record<VariantName, Summary>;
}

const coldStartLimit = 1.4;

export const cold = defineMeasurement({
  name: "cold",
  method: `**1, 6 Cold start** (\`bench/cold/\`). A fresh \`node\` process per start imports the bundle and handles one
  new event against the bench's dynalite on 127.0.0.1, with the environment Lambda gives the function.
  Spawn → response is timed by the bench; import and first event inside the child. Each run starts every
  variant once, and each probe (one of ours' dependencies bundled alone, imported only), in an order rotated
  run by run, after one unmeasured start of each variant so none pays for the first read of its bundle.
  Peak RSS is the child's \`maxRSS\` after its first answer.`,
  async run(bench) {
    const runs = bench.smoke ? 2 : 20;
    const harness = await buildHarness("bench/cold/child.ts", join(bench.dir, "cold-child.mjs"));
    const probeBundles = Object.fromEntries(
      await Promise.all(
        probes.map(async (p) => [p.name, (await buildHandler({ source: p.source }, join(bench.dir, `probe-${p.name}.mjs`))).file] as const),
      ),
    ) as Record<ProbeName, string>;

    const series = byVariant(() => ({ total: [] as number[], import: [] as number[], firstEvent: [] as number[], rss: [] as number[] }));
    const probeSeries = Object.fromEntries(probes.map((p) => [p.name, [] as number[]])) as Record<ProbeName, number[]>;
    type Job = { kind: "variant"; name: VariantName } | { kind: "probe"; name: ProbeName };
    const jobs: Job[] = [
      ...variants.map((v): Job => ({ kind: "variant", name: v.name })),
      ...probes.map((p): Job => ({ kind: "probe", name: p.name })),
    ];

    async function coldStart(name: VariantName): Promise<{ report: ColdReport; elapsedMs: number }> {
      // A new event every time: a first invocation handles a new event, not a duplicate.
      const eventFile = join(bench.dir, `cold-${name}.json`);
      writeFileSync(eventFile, JSON.stringify(functionUrlEvent(smallPayload(), bench.secret)));
      const result = await runReporting<ColdReport>(harness, [bench.bundles[name].file, eventFile], bench.env(name));
      if (result.report.statusCode !== 200) throw new Error(`cold ${name}: first event answered ${result.report.statusCode}`);
      return result;
    }

    for (const v of variants) await coldStart(v.name);
    for (let run = 0; run < runs; run += 1) {
      bench.progress(`cold start run ${run + 1}/${runs}`);
      for (const job of rotation(jobs, run)) {
        if (job.kind === "probe") {
          const { report } = await runReporting<ColdReport>(harness, [probeBundles[job.name]], bench.env("ours"));
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

    const results: ColdResults = {
      firstEventBytes: smallPayload().body.length,
      totalMs: byVariant((name) => summarize(series[name].total)),
      importMs: byVariant((name) => summarize(series[name].import)),
      firstEventMs: byVariant((name) => summarize(series[name].firstEvent)),
      totalToFloor: byVariant((name) => summarize(pairedRatios(series[name].total, series.floor.total))),
      importToFloor: byVariant((name) => summarize(pairedRatios(series[name].import, series.floor.import))),
      probeImportMs: Object.fromEntries(probes.map((p) => [p.name, summarize(probeSeries[p.name])])) as Record<ProbeName, Summary>,
      maxRssMiB: byVariant((name) => summarize(series[name].rss)),
    };
    const { totalMs, importMs, firstEventMs, totalToFloor, importToFloor, maxRssMiB } = results;
    const oursToFloor = totalToFloor.ours.median;
    return {
      results,
      rows: [
        {
          section: 1,
          measure: "Cold start: spawn → first response, ms",
          values: perVariant((n) => spread(totalMs[n])),
          ratios: { oursToFloor: ratio(totalToFloor.ours), naiveToFloor: ratio(totalToFloor.naive) },
          target: verdict(oursToFloor <= coldStartLimit, `ours ≤ ${coldStartLimit} × floor: ${ratio(oursToFloor)}`),
        },
        {
          section: 1,
          measure: "… of which import of the bundle, ms",
          values: perVariant((n) => spread(importMs[n])),
          ratios: { oursToFloor: ratio(importToFloor.ours), naiveToFloor: ratio(importToFloor.naive) },
        },
        {
          section: 1,
          measure: `… of which first event (${kib(results.firstEventBytes)}, new), ms`,
          values: perVariant((n) => spread(firstEventMs[n])),
        },
        {
          section: 1,
          measure: `… import of ours' dependencies, each alone: ${probes.map((p) => p.label).join(" / ")}, ms`,
          values: { ours: probes.map((p) => amount(results.probeImportMs[p.name].median)).join(" / ") },
        },
        {
          section: 6,
          measure: "Peak RSS, cold process after its first event, MiB",
          values: perVariant((n) => spread(maxRssMiB[n])),
          ratios: {
            oursToFloor: ratio(maxRssMiB.ours.median / maxRssMiB.floor.median),
            oursToPowertools: ratio(maxRssMiB.ours.median / maxRssMiB.powertools.median),
          },
          target: "report",
        },
      ],
    };
  },
});
