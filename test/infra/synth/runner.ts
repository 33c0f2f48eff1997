import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { createMocks, type Registration } from "./mocks.ts";
import { startRpcServer } from "./rpc-server.ts";

/*
 * Evaluates an sst.config.ts the way `sst deploy` does, but under Pulumi mocks:
 *   1. app(): bundle the config and call app({ stage }) for the app settings ($app);
 *   2. run(): bundle eval code with esbuild exactly like the CLI (platform's shim/run.js
 *      injected, $app/$cli/$dev defined, provider modules and `sst` prepended as globals to
 *      every file outside .sst), and execute it through .sst/platform/src/auto/run.ts inside
 *      Pulumi's stack, with the platform's own copy of @pulumi/pulumi set to mocks.
 * Writes a JSON result to the file named by argv[4]. A program that can make no more
 * progress (a dependency cycle) drains the event loop; that is reported at once with the
 * resources that were constructed but never registered.
 *
 * SYNTH_STAGE_PATCH (JSON, e.g. {"production":{"domain":"webhooks.example.com"}}) edits
 * infra/stage.ts's presets in both bundles, the way a team would edit that file: the program
 * itself reads no such variable. SYNTH_FLIP_SST_DEFAULTS=1 changes two of the platform's
 * defaults (the Router's `protection`, the function URL's `authorization`), as an SST upgrade
 * might, to show that the program does not depend on them.
 *
 * Usage: tsx runner.ts <sst.config.ts> <stage> <result.json>
 */

const args = process.argv.slice(2);
if (args.length !== 3) {
  console.error("usage: runner.ts <sst.config.ts> <stage> <result.json>");
  process.exit(2);
}
const [configArg, stage, resultFile] = args as [string, string, string];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const platform = join(root, ".sst", "platform");
const configPath = resolve(configArg);
const timeoutMs = Number(process.env.SYNTH_TIMEOUT_MS ?? 120_000);
const scratch = join(platform, `synth-${process.pid}`);
mkdirSync(scratch, { recursive: true });

const stagePatch = process.env.SYNTH_STAGE_PATCH;

const registrations: Registration[] = [];
const constructed: { type: string; name: string; custom: boolean }[] = [];
const errors: string[] = [];
const warnings: string[] = [];
let finished = false;

// Without an engine (mocks), Pulumi's log.warn falls back to console.warn with this prefix.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  const text = args.map(String).join(" ");
  if (text.startsWith("warning: [runtime] ")) warnings.push(text.slice("warning: [runtime] ".length));
  warn(...args);
};

function writeResult(result: Record<string, unknown>) {
  writeFileSync(resultFile, JSON.stringify({ ...result, scratch, registrations, constructed, errors, warnings }, null, 2));
}

/** Custom resources the program created whose inputs never resolved: the stuck ones. */
function stuckResources() {
  const registered = new Set(registrations.map((r) => `${r.type}::${r.name}`));
  return constructed.filter((c) => c.custom && !registered.has(`${c.type}::${c.name}`)).map((c) => `${c.type} "${c.name}"`);
}

function reportStuck(reason: string) {
  if (finished) return;
  finished = true;
  writeResult({ ok: false, error: `${reason}: the program never completed`, stuck: stuckResources() });
  process.exit(3);
}

process.on("beforeExit", () => reportStuck("event loop drained"));
process.on("unhandledRejection", (reason) => {
  errors.push(reason instanceof Error ? reason.message : String(reason));
});
setTimeout(() => reportStuck(`timed out after ${timeoutMs} ms`), timeoutMs).unref();

/** Appends SYNTH_STAGE_PATCH to infra/stage.ts, after its presets are defined. */
function patchStageSource(path: string, contents: string): string {
  if (!stagePatch || !/[\\/]infra[\\/]stage\.ts$/.test(path)) return contents;
  return `${contents}
for (const [name, patch] of Object.entries(${stagePatch})) {
  if (!(name in presets)) throw new Error("SYNTH_STAGE_PATCH names no preset of infra/stage.ts: " + name);
  Object.assign(presets[name], patch);
}
`;
}

// The platform's defaults SYNTH_FLIP_SST_DEFAULTS replaces: [file, SST's line, the flipped line].
const sstDefaults: [string, string, string][] = [
  ["components/aws/router.ts", 'if (!protection) return { mode: "none" as const };', 'if (!protection) return { mode: "oac-with-edge-signing" as const };'],
  ["components/aws/function.ts", 'const defaultAuthorization = "none" as const;', 'const defaultAuthorization = "iam" as const;'],
];

function flipSstDefaults(path: string, contents: string): string {
  if (process.env.SYNTH_FLIP_SST_DEFAULTS !== "1") return contents;
  const normalized = path.split("\\").join("/");
  for (const [file, line, flipped] of sstDefaults) {
    if (!normalized.endsWith(`.sst/platform/src/${file}`)) continue;
    // A platform that no longer has the line must be looked at again, not silently passed.
    if (!contents.includes(line)) throw new Error(`SYNTH_FLIP_SST_DEFAULTS: ${file} no longer contains ${line}`);
    return contents.replace(line, flipped);
  }
  return contents;
}

/** Like the CLI's config build: a top-level import statement in sst.config.ts is an error. */
const disallowTopLevelImports: Plugin = {
  name: "DisallowImports",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /.*/ }, (args) => {
      if (basename(args.importer) === "sst.config.ts" && args.kind === "import-statement") {
        return { errors: [{ text: `sst.config.ts may not import ${args.path} at the top level` }] };
      }
      return undefined;
    });
  },
};

const stagePatchPlugin: Plugin = {
  name: "StagePatch",
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /[\\/]infra[\\/]stage\.ts$/ }, (args) => ({
      contents: patchStageSource(args.path, readFileSync(args.path, "utf8")),
      loader: "ts",
    }));
  },
};

async function evaluateApp(): Promise<Record<string, unknown> & { name: string; stage: string }> {
  const outfile = join(scratch, "app.mjs");
  // As the CLI evaluates app(): the whole config bundled (run()'s dynamic imports too, unrun),
  // with $config defined by a banner.
  await build({
    entryPoints: [configPath],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    mainFields: ["module", "main"],
    banner: { js: "function $config(input) { return input }" },
    nodePaths: [join(platform, "node_modules")],
    plugins: [disallowTopLevelImports, stagePatchPlugin],
    logLevel: "silent",
  });
  const config = (await import(pathToFileURL(outfile).href)) as {
    default: { app(input: { stage: string }): Record<string, unknown> | Promise<Record<string, unknown>> };
  };
  const app = await config.default.app({ stage });
  const providers = Object.fromEntries(
    Object.entries((app.providers ?? {}) as Record<string, unknown>).map(([name, value]) => [
      name,
      typeof value === "string" ? { version: value } : value,
    ]),
  );
  return { ...app, name: String(app.name), providers, stage };
}

function globalsPlugin(globals: string): Plugin {
  return {
    name: "InjectGlobals",
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: /\.(js|ts|jsx|tsx)$/ }, (args) => {
        const contents = patchStageSource(args.path, readFileSync(args.path, "utf8"));
        if (args.path.includes(".sst")) return { contents: flipSstDefaults(args.path, contents), loader: "default" };
        return { contents: `${globals}\n${contents}`, loader: "default" };
      });
    },
  };
}

async function bundleProgram(app: Record<string, unknown>) {
  const lock = JSON.parse(readFileSync(join(root, ".sst", "provider-lock.json"), "utf8")) as { alias: string; package: string }[];
  const globals = [
    ...lock.map((entry) => `import * as ${entry.alias} from "${entry.package}";`),
    `import * as sst from "${join(platform, "src/components")}";`,
  ].join("\n");
  const cli = {
    command: "deploy",
    dev: false,
    paths: { home: join(homedir(), ".config", "sst"), root, work: join(root, ".sst"), platform },
    state: { version: {} },
  };
  const outfile = join(scratch, "sst.config.mjs");
  await build({
    stdin: {
      contents: [
        `import { run } from "${join(platform, "src/auto/run.ts")}";`,
        `import mod from "${configPath}";`,
        "const result = await run(mod.run);",
        "export default result;",
      ].join("\n"),
      resolveDir: root,
      sourcefile: "eval.ts",
      loader: "ts",
    },
    banner: {
      js: [
        'import { createRequire as topLevelCreateRequire } from "module";',
        "const require = topLevelCreateRequire(import.meta.url);",
        'import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url";',
        "const __filename = topLevelFileUrlToPath(import.meta.url);",
        'const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url));',
      ].join("\n"),
    },
    mainFields: ["module", "main"],
    format: "esm",
    platform: "node",
    sourcemap: "linked",
    nodePaths: [join(platform, "node_modules")],
    plugins: [globalsPlugin(globals)],
    external: ["@pulumi/*", "undici", "@pulumiverse/*", "@sst-provider/*", "@aws-sdk/*", "esbuild", "archiver", "glob", "vite", "pulumi-stripe"],
    define: { $app: JSON.stringify(app), $cli: JSON.stringify(cli), $dev: "false" },
    inject: [join(platform, "src/shim/run.js")],
    outfile,
    write: true,
    bundle: true,
    logLevel: "silent",
  });
  return outfile;
}

type Pulumi = typeof import("../../../.sst/platform/node_modules/@pulumi/pulumi/index.js");

async function main() {
  const app = await evaluateApp();
  const rpc = await startRpcServer(root, join(scratch, "artifacts"), () => undefined);
  process.env.SST_SERVER = rpc.url;
  const program = await bundleProgram(app);

  // The platform's own copy, so the program and the mocks share one Pulumi runtime.
  const pulumi = createRequire(join(platform, "package.json"))("@pulumi/pulumi") as Pulumi;
  await pulumi.runtime.setMocks(
    createMocks((registration) => registrations.push(registration)),
    app.name,
    stage,
    false,
  );
  const outputs = await pulumi.runtime.runInPulumiStack(async () => {
    // instanceof, not isInstance: the marker field is set only after the constructor returns.
    pulumi.runtime.registerStackTransformation((args) => {
      constructed.push({ type: args.type, name: args.name, custom: args.resource instanceof pulumi.CustomResource });
      return undefined;
    });
    const mod = (await import(pathToFileURL(program).href)) as { default: unknown };
    return mod.default;
  });
  await pulumi.runtime.disconnect();
  finished = true;
  writeResult({ ok: true, app, outputs, builds: rpc.builds });
  await rpc.close();
}

main().catch((error: unknown) => {
  if (finished) return;
  finished = true;
  writeResult({ ok: false, error: error instanceof Error ? error.message : String(error), stuck: stuckResources() });
  process.exit(1);
});
