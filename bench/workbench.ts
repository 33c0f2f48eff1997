import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDynalite, type Engine } from "@stripe-webhooks/testing/engines";
import { newWebhookSecret } from "@stripe-webhooks/scripts/stripe-events";
import { buildHandler, buildHarness, buildSplit, type Bundle, type SplitBundle } from "./build.ts";
import type { BenchConfig } from "./config.ts";
import { handlerEnvironment } from "./environment.ts";
import { createVariantTable } from "./tables.ts";
import { probes, variants, type ProbeName, type VariantName } from "./variants.ts";

/* What every section works with: the built bundles and harnesses, one dynalite, the tables. */

export interface Workbench {
  config: BenchConfig;
  /** Scratch directory for bundles, event files and logs; removed at the end. */
  dir: string;
  secret: string;
  engine: Engine;
  /** The handlers as deployed. */
  bundles: Record<VariantName, Bundle>;
  /** The same handlers with a replayable DynamoDB client, for warm CPU only. */
  replayBundles: Record<VariantName, Bundle>;
  probeBundles: Record<ProbeName, Bundle>;
  /** The handlers built with code splitting, for their sizes only. */
  splitBundles: Record<VariantName, SplitBundle>;
  harness: { cold: string; warm: string; requests: string; unitCosts: string };
  /** A handler process's environment, against the bench's dynalite and the variant's table. */
  env(variant: VariantName, overrides?: { logLevel?: string }): NodeJS.ProcessEnv;
  progress(message: string): void;
  close(): Promise<void>;
}

async function buildAll<K extends string>(
  items: readonly { name: K; entry: string }[],
  build: (item: { name: K; entry: string }) => Promise<Bundle>,
): Promise<Record<K, Bundle>> {
  const built = await Promise.all(items.map(async (item) => [item.name, await build(item)] as const));
  return Object.fromEntries(built) as Record<K, Bundle>;
}

export async function openWorkbench(config: BenchConfig, progress: (message: string) => void): Promise<Workbench> {
  const dir = mkdtempSync(join(tmpdir(), "stripe-webhooks-bench-"));
  progress("building bundles");
  const bundles = await buildAll(variants, (v) => buildHandler(v.entry, join(dir, `${v.name}.mjs`)));
  const replayBundles = await buildAll(variants, (v) => buildHandler(v.entry, join(dir, `${v.name}.replay.mjs`), true));
  const probeBundles = await buildAll(probes, (p) => buildHandler(p.entry, join(dir, `probe-${p.name}.mjs`)));
  const splitBundles = Object.fromEntries(
    await Promise.all(variants.map(async (v) => [v.name, await buildSplit(v.entry, join(dir, `split-${v.name}`))] as const)),
  ) as Record<VariantName, SplitBundle>;
  const harness = {
    cold: await buildHarness("bench/child/cold.ts", join(dir, "cold.mjs")),
    warm: await buildHarness("bench/child/warm.ts", join(dir, "warm.mjs")),
    requests: await buildHarness("bench/child/requests.ts", join(dir, "requests.mjs")),
    // Bundled like a handler, since it measures the same packages as they run in one.
    unitCosts: (await buildHandler("bench/child/unit-costs.ts", join(dir, "unit-costs.mjs"))).file,
  };

  const engine = await startDynalite();
  const tables = new Map<VariantName, string>();
  for (const variant of variants) {
    tables.set(variant.name, await createVariantTable(engine, variant, `bench-${variant.name}`));
  }
  const secret = newWebhookSecret();
  return {
    config,
    dir,
    secret,
    engine,
    bundles,
    replayBundles,
    probeBundles,
    splitBundles,
    harness,
    env: (variant, overrides = {}) =>
      handlerEnvironment({
        name: variant,
        endpoint: engine.endpoint,
        tableName: tables.get(variant) ?? "",
        secret,
        ...overrides,
      }),
    progress,
    async close() {
      await engine.stop();
      // BENCH_KEEP=1 leaves the bundles, events and receiver logs for a closer look.
      if (process.env.BENCH_KEEP === "1") progress(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
