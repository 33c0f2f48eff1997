import { writeFileSync } from "node:fs";
import { cpus, release, totalmem, type } from "node:os";
import { join } from "node:path";
import { measurements, type BenchResults, type MeasurementName } from "./measurements.ts";
import { repoRoot } from "./shared/build.ts";
import { renderBenchmarksFile, renderMachine, type Machine } from "./shared/document.ts";
import { renderTable, type Row } from "./shared/table.ts";
import { openWorkbench } from "./shared/workbench.ts";

/*
 * `npm run bench`: builds ours and the three baselines as SST deploys them, runs every
 * measurement in bench/measurements.ts, prints the table and writes BENCHMARKS.md.
 *
 *   BENCH_SMOKE=1          tiny counts, to check that it works; BENCHMARKS.md is left alone
 *   BENCH_ONLY=warm,cold   only these measurements; BENCHMARKS.md is left alone
 *   BENCH_RESULTS=<file>   also write every number as JSON
 *   BENCH_KEEP=1           keep the scratch directory (bundles, events, receiver logs)
 */

// Lambda runs Node 24; here on Node 20 the SDK would warn once per process about its support.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const smoke = process.env.BENCH_SMOKE === "1";
const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(",").map((name) => name.trim()) : undefined;
const known: readonly string[] = measurements.map((m) => m.name);
const unknown = only?.filter((name) => !known.includes(name)) ?? [];
if (unknown.length > 0) throw new Error(`BENCH_ONLY: no measurement ${unknown.join(", ")} (there are ${known.join(", ")})`);
const selected = measurements.filter((m) => !only || only.includes(m.name));

const started = performance.now();
const progress = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${message}\n`);

const bench = await openWorkbench(smoke, progress);
const measured: Partial<Record<MeasurementName, unknown>> = {};
const rows: Row[] = [];
try {
  for (const measurement of selected) {
    const { results, rows: measuredRows } = await measurement.run(bench);
    measured[measurement.name] = results;
    rows.push(...measuredRows);
  }
} finally {
  await bench.close();
}

const machine: Machine = {
  date: new Date().toISOString(),
  durationSeconds: Math.round((performance.now() - started) / 1000),
  node: process.version,
  cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
  cores: cpus().length,
  memoryGiB: totalmem() / 1024 ** 3,
  os: `${type()} ${release()}`,
};
const { date, durationSeconds, ...host } = machine;
// Each entry is what that measurement's run returned, so the cast only names what is there.
const results: BenchResults = { date, smoke, durationSeconds, machine: host, measurements: measured as BenchResults["measurements"] };

console.log(`\n${renderMachine(machine)}\nmedian (p25–p75); ratios are medians of per-run ratios.\n\n${renderTable(rows)}\n`);
if (process.env.BENCH_RESULTS) writeFileSync(process.env.BENCH_RESULTS, `${JSON.stringify(results, null, 2)}\n`);
if (!smoke && !only) {
  writeFileSync(join(repoRoot, "BENCHMARKS.md"), renderBenchmarksFile(machine, rows, selected.map((m) => m.method)));
  progress("wrote BENCHMARKS.md");
}
// The bench's own SDK clients and dynalite's sockets are closed; exit without waiting on stragglers.
process.exit(0);
