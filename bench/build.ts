import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { sstDeployBuildOptions } from "../test/infra/synth/sst-build.ts";

/*
 * Every handler, ours and the baselines, is bundled with the settings SST uses for a Node
 * function it deploys (test/infra/synth/rpc-server.ts is this repo's stand-in for SST's
 * Runtime.Build): one ESM file, minified, platform node, `module` before `main`, and the
 * createRequire banner for CommonJS code inside an ESM bundle.
 */

export const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));

const deployOptions = { ...sstDeployBuildOptions, logLevel: "error" } as const satisfies BuildOptions;

const replayClient = join(repoRoot, "bench/replay/client-dynamodb.ts");

// Points every import of the DynamoDB client package at the replaying stand-in, except the
// stand-in's own import of the real package.
const replayDynamo: Plugin = {
  name: "bench-replay-dynamodb",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^@aws-sdk\/client-dynamodb$/ }, (args) =>
      args.importer === replayClient ? undefined : { path: replayClient },
    );
  },
};

export interface Bundle {
  file: string;
  bytes: number;
  gzipBytes: number;
  metafile: Metafile;
}

/**
 * Builds a handler the way it is deployed. With `replay`, the warm-CPU flavour: identical but
 * for the DynamoDB client, whose commands can be recorded and replayed (see replay/tape.ts).
 */
export async function buildHandler(entry: string, outfile: string, replay = false): Promise<Bundle> {
  const result = await build({
    ...deployOptions,
    // Relative to the repository, or absolute (a prototype elsewhere, built the same way).
    entryPoints: [resolve(repoRoot, entry)],
    outfile,
    metafile: true,
    plugins: replay ? [replayDynamo] : [],
  });
  return {
    file: outfile,
    bytes: statSync(outfile).size,
    gzipBytes: gzipSync(readFileSync(outfile)).length,
    metafile: result.metafile,
  };
}

/** A code-split build: what a cold start loads, and everything deployed. */
export interface SplitBundle {
  /** The entry chunk and every chunk it imports statically: parsed and run at import. */
  loadedBytes: number;
  /** All chunks, the dynamically imported ones (loaded only if called) included. */
  totalBytes: number;
}

/**
 * Builds a handler as above with SST's `nodejs.splitting` on: dynamic imports (the AWS SDK's
 * credential providers other than the environment's, for one) move to chunks of their own.
 */
export async function buildSplit(entry: string, outdir: string): Promise<SplitBundle> {
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

/**
 * Builds a harness that runs a handler bundle in a child process. Plain JavaScript so the
 * child starts as `node file.mjs` with no TypeScript loader in the way of the timings.
 */
export async function buildHarness(entry: string, outfile: string): Promise<string> {
  await build({
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    entryPoints: [join(repoRoot, entry)],
    outfile,
    logLevel: "error",
    banner: deployOptions.banner,
  });
  return outfile;
}

/** Bytes in a bundle by npm package (or repo folder), largest first. */
export function bytesByPackage(metafile: Metafile): { name: string; bytes: number }[] {
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
