import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDynalite } from "@stripe-webhooks/testing/engines";
import { newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";
import { repoRoot } from "../shared/build.ts";
import { handlerEnvironment } from "../shared/environment.ts";
import { functionUrlEvent, largePayload, smallPayload } from "../shared/events.ts";
import { pairedRatios, summarize, type Summary } from "../shared/stats.ts";
import { amount, ratio, spread } from "../shared/table.ts";
import { variant } from "../shared/variants.ts";
import type { SizeName } from "../warm/protocol.ts";
import {
  buildReplayHandler,
  buildWarmHarness,
  interleavedRounds,
  pinnableCpu,
  roundPlans,
  startWarm,
  type WarmHandler,
} from "../warm/session.ts";

/*
 * `npm run bench:compare -- <commit> [<commit>...]`: warm CPU per event of the deployed entry as
 * it was at each commit against this checkout's, in one pinned process with the floor, measured
 * as bench/warm measures (interleaved batches, replayed DynamoDB results). It answers "did this
 * change make the handler slower?" with both sides measured in the same run, which comparing
 * two BENCHMARKS.md files cannot: their figures move with the machine and with the method.
 *
 * Each commit is checked out in a git worktree whose node_modules are this checkout's but for
 * the workspace packages, so only the project's own code differs between the columns. The links
 * are given as SST gives them in Lambda (SST_RESOURCE_*), which every version of the deployed
 * entry reads through `sst/resource`. Prints a table; BENCH_RESULTS=<file> also writes the
 * numbers; BENCH_SMOKE=1 runs tiny counts. BENCHMARKS.md is left alone.
 */

const commits = process.argv.slice(2);
if (commits.length === 0) {
  console.error("usage: npm run bench:compare -- <commit> [<commit>...]   (e.g. origin/main, HEAD~3)");
  process.exit(2);
}
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const smoke = process.env.BENCH_SMOKE === "1";
const deployedEntry = "packages/functions/src/webhook.ts";
const workspacePackages = "@stripe-webhooks";

/** Worktrees made so far, removed at the end whatever happens. */
const trees: string[] = [];

const git = (...args: string[]) => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trim();

function resolveCommit(ref: string): string {
  try {
    return git("rev-parse", "--verify", `${ref}^{commit}`);
  } catch {
    throw new Error(`bench:compare: ${ref} is not a commit here`);
  }
}

/** A worktree of `sha` under `dir` whose third-party modules are this checkout's. */
function checkout(sha: string, dir: string): string {
  const tree = join(dir, sha.slice(0, 12));
  git("worktree", "add", "--detach", "--force", tree, sha);
  trees.push(tree);
  const modules = join(tree, "node_modules");
  mkdirSync(join(modules, workspacePackages), { recursive: true });
  for (const name of readdirSync(join(repoRoot, "node_modules"))) {
    if (name !== workspacePackages) symlinkSync(join(repoRoot, "node_modules", name), join(modules, name));
  }
  for (const name of readdirSync(join(tree, "packages"))) {
    symlinkSync(join(tree, "packages", name), join(modules, workspacePackages, name));
  }
  if (!existsSync(join(tree, deployedEntry))) throw new Error(`bench:compare: ${sha.slice(0, 12)} has no ${deployedEntry}`);
  return tree;
}

/** The links SST gives the deployed function, as `sst/resource` reads them in Lambda. */
function sstLinks(secret: string, table: string): Record<string, string> {
  return {
    SST_RESOURCE_App: JSON.stringify({ name: "stripe-webhooks", stage: "bench" }),
    SST_RESOURCE_StripeWebhookSecret: JSON.stringify({ type: "sst.sst.Secret", value: secret }),
    SST_RESOURCE_Ledger: JSON.stringify({ type: "sst.sst.Linkable", name: table }),
    // Linked but empty: no handler of the bench's events calls Stripe's API.
    SST_RESOURCE_StripeApiKey: JSON.stringify({ type: "sst.sst.Secret", value: "" }),
  };
}

const sizes: SizeName[] = ["small", "large"];
const plans = roundPlans(smoke);

export interface CompareResults {
  /** The columns in order: each commit (short sha), then "checkout", then "floor". */
  handlers: string[];
  cpuMicrosPerEvent: Record<SizeName, Record<string, Summary>>;
  /** Per round, each handler's median batch ÷ the first commit's. */
  toFirst: Record<SizeName, Record<string, Summary>>;
  toFloor: Record<SizeName, Record<string, Summary>>;
  /** DynamoDB commands replayed per event: the same path as live, per handler. */
  commandsPerEvent: Record<SizeName, Record<string, number>>;
}

const started = performance.now();
const progress = (message: string) => process.stderr.write(`[compare ${((performance.now() - started) / 1000).toFixed(0)}s] ${message}\n`);
const shas = commits.map(resolveCommit);
// Scratch for worktrees and bundles, one dynalite for every handler's table: all the bench's
// workbench would give, without building the four variants this does not measure.
const bench = { dir: mkdtempSync(join(tmpdir(), "stripe-webhooks-compare-")), engine: await startDynalite(), secret: newWebhookSecret() };
try {
  const sources = [
    ...shas.map((sha) => ({ name: sha.slice(0, 12), entry: join(checkout(sha, join(bench.dir, "trees")), deployedEntry), links: true })),
    { name: "checkout", entry: deployedEntry, links: true },
    { name: "floor", entry: variant("floor").entry, links: false },
  ];
  const names = sources.map((source) => source.name);
  if (new Set(names).size !== names.length) throw new Error("bench:compare: a commit is named twice");
  progress("building each commit's deployed entry");
  const handlers: WarmHandler[] = [];
  for (const source of sources) {
    const table = await bench.engine.createLedgerTable(`compare-${source.name}`);
    const env = handlerEnvironment({ name: source.name, endpoint: bench.engine.endpoint, tableName: table, secret: bench.secret });
    handlers.push({
      name: source.name,
      bundle: await buildReplayHandler(source.entry, join(bench.dir, `compare-${source.name}.mjs`)),
      env: source.links ? { ...env, ...sstLinks(bench.secret, table) } : env,
    });
  }
  const events = {
    small: Array.from({ length: plans.small.distinct }, () => functionUrlEvent(smallPayload(), bench.secret)),
    large: Array.from({ length: plans.large.distinct }, () => functionUrlEvent(largePayload(), bench.secret)),
  };
  progress("recording each handler's DynamoDB results");
  const warm = await startWarm({
    dir: bench.dir,
    harness: await buildWarmHarness(bench.dir),
    cpu: pinnableCpu(),
    handlers,
    events,
    env: handlers[0]?.env ?? {},
  });
  const results: CompareResults = { handlers: names, cpuMicrosPerEvent: { small: {}, large: {} }, toFirst: { small: {}, large: {} }, toFloor: { small: {}, large: {} }, commandsPerEvent: { small: {}, large: {} } };
  try {
    for (const size of sizes) {
      const series = await interleavedRounds(warm, names, size, plans[size], progress);
      const first = series.medians[sources[0]?.name ?? ""];
      const floor = series.medians.floor;
      if (!first || !floor) throw new Error("bench:compare: no rounds measured");
      for (const name of names) {
        const medians = series.medians[name];
        if (!medians) throw new Error(`bench:compare: no rounds of ${name}`);
        results.cpuMicrosPerEvent[size][name] = summarize(medians);
        results.toFirst[size][name] = summarize(pairedRatios(medians, first));
        results.toFloor[size][name] = summarize(pairedRatios(medians, floor));
        results.commandsPerEvent[size][name] = series.commandsPerEvent[name] ?? 0;
      }
    }
  } finally {
    await warm.stop().catch(() => 0);
  }

  const cell = <T>(values: Record<string, T>, name: string): T => {
    const value = values[name];
    if (value === undefined) throw new Error(`bench:compare: no figure for ${name}`);
    return value;
  };
  const row = (label: string, format: (name: string) => string) => `| ${label} | ${names.map(format).join(" | ")} |`;
  const lines = [
    row("Warm CPU per event, µs", (name) => name),
    `|${[...names, ""].map(() => " --- ").join("|")}|`,
    ...sizes.flatMap((size) => [
      row(`${size} event`, (name) => spread(cell(results.cpuMicrosPerEvent[size], name))),
      row(`… ÷ ${names[0]}`, (name) => ratio(cell(results.toFirst[size], name))),
      row("… ÷ floor", (name) => ratio(cell(results.toFloor[size], name))),
      row("… DynamoDB commands per event", (name) => amount(cell(results.commandsPerEvent[size], name))),
    ]),
  ];
  console.log(`\nmedian (p25–p75) over ${plans.small.rounds} rounds; ratios are medians of per-round ratios.\n\n${lines.join("\n")}\n`);
  if (process.env.BENCH_RESULTS) writeFileSync(process.env.BENCH_RESULTS, `${JSON.stringify(results, null, 2)}\n`);
} finally {
  for (const tree of trees) {
    try {
      git("worktree", "remove", "--force", tree);
    } catch {
      // A worktree that was never created (its checkout failed) has nothing to remove.
    }
  }
  git("worktree", "prune");
  await bench.engine.stop();
  rmSync(bench.dir, { recursive: true, force: true });
}
process.exit(0);
