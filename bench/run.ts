import { writeFileSync } from "node:fs";
import { cpus, release, totalmem, type } from "node:os";
import { join } from "node:path";
import { bytesByPackage, repoRoot } from "./build.ts";
import { benchConfig } from "./config.ts";
import { renderBenchmarksFile } from "./reading.ts";
import { renderMachine, renderTable } from "./report.ts";
import type { BenchResults } from "./results.ts";
import { measureBursts } from "./sections/burst.ts";
import { measureColdStarts } from "./sections/cold.ts";
import { countRequests } from "./sections/requests.ts";
import { measureWarmCpu } from "./sections/warm.ts";
import { byVariant } from "./variants.ts";
import { openWorkbench } from "./workbench.ts";

/*
 * `npm run bench`: builds ours and the three baselines as SST deploys them, measures the six
 * sections, prints the table and writes it with a reading to BENCHMARKS.md.
 *
 *   BENCH_SMOKE=1        tiny counts, to check that it works; BENCHMARKS.md is left alone
 *   BENCH_RESULTS=<file> also write every number as JSON
 *   BENCH_KEEP=1         keep the scratch directory (bundles, events, receiver logs)
 */

// Lambda runs Node 24; here on Node 20 the SDK would warn once per process about its support.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const config = benchConfig();
const started = performance.now();
const progress = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${message}\n`);

const bench = await openWorkbench(config, progress);
let results: BenchResults;
try {
  const cold = await measureColdStarts(bench);
  const warm = await measureWarmCpu(bench);
  const requests = await countRequests(bench);
  const burst = await measureBursts(bench);
  results = {
    date: new Date().toISOString(),
    smoke: config.smoke,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    machine: {
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
      cores: cpus().length,
      memoryGiB: totalmem() / 1024 ** 3,
      os: `${type()} ${release()}`,
    },
    bundles: byVariant((name) => ({ bytes: bench.bundles[name].bytes, gzipBytes: bench.bundles[name].gzipBytes })),
    splitBundles: bench.splitBundles,
    oursComposition: bytesByPackage(bench.bundles.ours.metafile),
    cold,
    warm,
    requests,
    burst,
  };
} finally {
  await bench.close();
}

console.log(`\n${renderMachine(results)}\nmedian (p25–p75); ratios are medians of per-run ratios.\n\n${renderTable(results)}\n`);
if (process.env.BENCH_RESULTS) writeFileSync(process.env.BENCH_RESULTS, `${JSON.stringify(results, null, 2)}\n`);
if (!config.smoke) {
  writeFileSync(join(repoRoot, "BENCHMARKS.md"), renderBenchmarksFile(results));
  progress("wrote BENCHMARKS.md");
}
// The bench's own SDK clients and dynalite's sockets are closed; exit without waiting on stragglers.
process.exit(0);
