import { join, resolve } from "node:path";
import { build, type Metafile } from "esbuild";
import { buildHandler, deployOptions, repoRoot } from "../shared/build.ts";
import { defineMeasurement } from "../shared/measurement.ts";
import { number, perVariant, ratio, verdict } from "../shared/table.ts";
import { byVariant, deployedEntry, variant, type VariantName } from "../shared/variants.ts";
import type { Workbench } from "../shared/workbench.ts";

/*
 * Bundle sizes: the bundles every other measurement runs, and the same handlers built with
 * SST's `nodejs.splitting`. Also checks that ours' bench entry still bundles what the deployed
 * entry does, but for sst's link reader, so the figures keep standing for the deployed code.
 */

/** A code-split build: what a cold start loads, and everything deployed. */
export interface SplitBundle {
  /** The entry chunk and every chunk it imports statically: parsed and run at import. */
  loadedBytes: number;
  /** All chunks, the dynamically imported ones (loaded only if called) included. */
  totalBytes: number;
}

export interface BundleResults {
  bytes: Record<VariantName, { bytes: number; gzipBytes: number }>;
  split: Record<VariantName, SplitBundle>;
  /** Ours' bundle by package (or repository folder), largest first. */
  oursComposition: { name: string; bytes: number }[];
  /** packages/functions/src/webhook.ts as SST builds it: ours plus `sst/resource`. */
  deployed: { bytes: number; gzipBytes: number };
}

/** Dynamic imports (the SDK's credential providers other than the environment's) get chunks. */
async function buildSplit(entry: string, outdir: string): Promise<SplitBundle> {
  const result = await build({
    ...deployOptions,
    entryPoints: { index: resolve(repoRoot, entry) },
    outdir,
    splitting: true,
    outExtension: { ".js": ".mjs" },
    metafile: true,
  });
  const outputs = result.metafile.outputs;
  // Dynamically imported modules are entry points of their own chunks too; ours is named "index".
  const entryChunk = Object.keys(outputs).find((path) => path.endsWith("/index.mjs"));
  const loaded = new Set<string>();
  const pending = entryChunk ? [entryChunk] : [];
  // Bounded by the number of chunks: each is visited once.
  while (pending.length > 0) {
    const path = pending.pop() ?? "";
    if (loaded.has(path)) continue;
    loaded.add(path);
    for (const imported of outputs[path]?.imports ?? []) {
      if (imported.kind === "import-statement" && outputs[imported.path]) pending.push(imported.path);
    }
  }
  const bytes = (paths: Iterable<string>) => [...paths].reduce((sum, path) => sum + (outputs[path]?.bytes ?? 0), 0);
  return { loadedBytes: bytes(loaded), totalBytes: bytes(Object.keys(outputs)) };
}

/** Bytes in a bundle by npm package (or repository folder), largest first. */
function bytesByPackage(metafile: Metafile): { name: string; bytes: number }[] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const name = match?.[1] ?? path.split("/").slice(0, 3).join("/");
      totals.set(name, (totals.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function bundledModules(metafile: Metafile): Set<string> {
  const modules = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) if (input.bytesInOutput > 0) modules.add(path);
  }
  return modules;
}

/**
 * Fails unless the deployed entry's bundle is ours' bench entry's with `sst/resource` in place
 * of the bench's link reader: a dependency added to one entry and not the other would make
 * every figure of ours measure something that is not deployed.
 */
function checkSameModules(deployed: Metafile, bench: Metafile, benchEntry: string): void {
  const a = bundledModules(deployed);
  const b = bundledModules(bench);
  const onlyDeployed = [...a].filter((path) => !b.has(path) && !/node_modules\/sst\//.test(path) && !path.endsWith(deployedEntry));
  const onlyBench = [...b].filter((path) => !a.has(path) && !path.includes(benchEntry.replace(/[^/]+$/, "")));
  if (onlyDeployed.length > 0 || onlyBench.length > 0) {
    throw new Error(
      `${benchEntry} no longer bundles what ${deployedEntry} does; make it call the factory the same way.\n` +
        `  only deployed: ${onlyDeployed.join(", ") || "none"}\n  only bench: ${onlyBench.join(", ") || "none"}`,
    );
  }
}

const sizeLimit = 0.5;

function composition(parts: { name: string; bytes: number }[]): { label: string; bytes: number }[] {
  const sum = (match: (name: string) => boolean) => parts.filter((p) => match(p.name)).reduce((total, p) => total + p.bytes, 0);
  const sdk = (name: string) => /^@(aws-sdk|smithy|aws-crypto)\//.test(name);
  const powertools = (name: string) => name.startsWith("@aws-lambda-powertools/");
  const ownCode = (name: string) => !name.startsWith("@") && name.includes("/");
  return [
    { label: "`stripe`", bytes: sum((name) => name === "stripe") },
    { label: "AWS SDK", bytes: sum(sdk) },
    { label: "Powertools", bytes: sum(powertools) },
    { label: "our code", bytes: sum(ownCode) },
    { label: "other", bytes: sum((name) => name !== "stripe" && !sdk(name) && !powertools(name) && !ownCode(name)) },
  ];
}

async function measureBundles(bench: Workbench): Promise<BundleResults> {
  bench.progress("bundle sizes");
  const deployed = await buildHandler(deployedEntry, join(bench.dir, "deployed.mjs"));
  checkSameModules(deployed.metafile, bench.bundles.ours.metafile, variant("ours").entry);
  const split = Object.fromEntries(
    await Promise.all(
      (Object.keys(bench.bundles) as VariantName[]).map(
        async (name) => [name, await buildSplit(variant(name).entry, join(bench.dir, `split-${name}`))] as const,
      ),
    ),
  ) as Record<VariantName, SplitBundle>;
  return {
    bytes: byVariant((name) => ({ bytes: bench.bundles[name].bytes, gzipBytes: bench.bundles[name].gzipBytes })),
    split,
    oursComposition: bytesByPackage(bench.bundles.ours.metafile),
    deployed: { bytes: deployed.bytes, gzipBytes: deployed.gzipBytes },
  };
}

export const bundle = defineMeasurement({
  name: "bundle",
  method: `**2 Bundle** (\`bench/bundle/\`). The bytes of the bundles the other measurements run. Ours' bench entry
  is the deployed entry's factory call with plain variables for its links: the bench checks that both bundle
  the same modules but for sst's link reader, which the deployed row adds. The split row builds the same
  with \`splitting: true\` (SST's \`nodejs.splitting\`); "loaded at import" is the entry chunk plus every chunk
  it imports statically, which is what a Lambda with credentials in its environment loads.`,
  async run(bench) {
    const results = await measureBundles(bench);
    const { bytes, split } = results;
    const toPowertools = bytes.ours.bytes / bytes.powertools.bytes;
    const bytesCell = (size: { bytes: number; gzipBytes: number }) => `${number(size.bytes, 0)} (${number(size.gzipBytes, 0)})`;
    const parts = composition(results.oursComposition);
    return {
      results,
      rows: [
        {
          section: 2,
          measure: "Bundle, minified, bytes (gzip)",
          values: perVariant((n) => bytesCell(bytes[n])),
          ratios: {
            oursToFloor: ratio(bytes.ours.bytes / bytes.floor.bytes),
            naiveToFloor: ratio(bytes.naive.bytes / bytes.floor.bytes),
            oursToPowertools: ratio(toPowertools),
          },
          target: verdict(toPowertools < sizeLimit, `ours < ${sizeLimit} × powertools: ${ratio(toPowertools)}`),
        },
        {
          section: 2,
          measure: `… of which ${parts.map((p) => p.label).join(" / ")}, bytes`,
          values: { ours: parts.map((p) => number(p.bytes, 0)).join(" / ") },
        },
        {
          section: 2,
          measure: `… as deployed (\`${deployedEntry}\`, links through \`sst/resource\`), bytes (gzip)`,
          values: { ours: bytesCell(results.deployed) },
        },
        {
          section: 2,
          measure: "… built with SST's `nodejs.splitting`: loaded at import / all chunks, bytes",
          values: perVariant((n) => `${number(split[n].loadedBytes, 0)} / ${number(split[n].totalBytes, 0)}`),
          ratios: {
            oursToFloor: ratio(split.ours.loadedBytes / split.floor.loadedBytes),
            naiveToFloor: ratio(split.naive.loadedBytes / split.floor.loadedBytes),
            oursToPowertools: ratio(split.ours.loadedBytes / split.powertools.loadedBytes),
          },
        },
      ],
    };
  },
});
