import type { BuildOptions } from "esbuild";

/**
 * How SST bundles a Node.js function for deploy, as this repo reproduces it (the synth suite's
 * Runtime.Build stand-in, and the benchmarks for every handler they compare): one ESM file,
 * minified, platform node, `module` before `main`, and the createRequire banner that lets
 * CommonJS code inside the ESM bundle call `require`.
 */
export const sstDeployBuildOptions = {
  bundle: true,
  minify: true,
  format: "esm",
  platform: "node",
  target: "node20",
  mainFields: ["module", "main"],
  banner: {
    js: 'import { createRequire as topLevelCreateRequire } from "module";\nconst require = topLevelCreateRequire(import.meta.url);',
  },
} as const satisfies BuildOptions;
