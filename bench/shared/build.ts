import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { sstDeployBuildOptions } from "../../test/infra/synth/sst-build.ts";

/*
 * Every handler, ours and the baselines, is bundled with the settings SST uses for a Node
 * function it deploys (test/infra/synth/rpc-server.ts is this repo's stand-in for SST's
 * Runtime.Build): one ESM file, minified, platform node, `module` before `main`, and the
 * createRequire banner for CommonJS code inside an ESM bundle.
 */

export const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export const deployOptions = { ...sstDeployBuildOptions, logLevel: "error" } as const satisfies BuildOptions;

export interface Bundle {
  file: string;
  bytes: number;
  gzipBytes: number;
  metafile: Metafile;
}

/**
 * What to bundle: a module relative to the repository root, or a few lines of source resolved
 * from the root (the cold start's single-dependency probes, which need no file of their own).
 */
export type BuildEntry = string | { source: string };

/** Builds a handler the way it is deployed; `plugins` swap a module (warm CPU's replay). */
export async function buildHandler(entry: BuildEntry, outfile: string, plugins: Plugin[] = []): Promise<Bundle> {
  const result = await build({
    ...deployOptions,
    ...(typeof entry === "string"
      ? { entryPoints: [resolve(repoRoot, entry)] }
      : { stdin: { contents: entry.source, resolveDir: repoRoot, loader: "ts", sourcefile: "probe.ts" } }),
    outfile,
    // Module paths in the metafile relative to the repository, wherever the bench is started.
    absWorkingDir: repoRoot,
    metafile: true,
    plugins,
  });
  return {
    file: outfile,
    bytes: statSync(outfile).size,
    gzipBytes: gzipSync(readFileSync(outfile)).length,
    metafile: result.metafile,
  };
}

/**
 * Builds the side of a measurement that runs in a child process. Plain JavaScript so the child
 * starts as `node file.mjs` with no TypeScript loader in the way of the timings.
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
