import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDynalite, type Engine } from "@stripe-webhooks/testing/engines";
import { newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";
import { buildHandler, type Bundle } from "./build.ts";
import { handlerEnvironment } from "./environment.ts";
import { createVariantTable } from "./tables.ts";
import { variants, type VariantName } from "./variants.ts";

/* What every measurement works with: the handlers as deployed, one dynalite, their tables. */

export interface Workbench {
  /** BENCH_SMOKE=1: tiny counts, only to prove every measurement works. */
  smoke: boolean;
  /** Scratch directory for bundles, event files and logs; removed at the end. */
  dir: string;
  secret: string;
  engine: Engine;
  /** Each variant built as SST builds a function for deploy. */
  bundles: Record<VariantName, Bundle>;
  /** A handler process's environment, against the bench's dynalite and the variant's table. */
  env(variant: VariantName, overrides?: { logLevel?: string }): NodeJS.ProcessEnv;
  progress(message: string): void;
  close(): Promise<void>;
}

export async function openWorkbench(smoke: boolean, progress: (message: string) => void): Promise<Workbench> {
  const dir = mkdtempSync(join(tmpdir(), "stripe-webhooks-bench-"));
  progress("building bundles");
  const built = await Promise.all(variants.map(async (v) => [v.name, await buildHandler(v.entry, join(dir, `${v.name}.mjs`))] as const));
  const bundles = Object.fromEntries(built) as Record<VariantName, Bundle>;

  const engine = await startDynalite();
  const tables = new Map<VariantName, string>();
  for (const variant of variants) {
    tables.set(variant.name, await createVariantTable(engine, variant, `bench-${variant.name}`));
  }
  const secret = newWebhookSecret();
  return {
    smoke,
    dir,
    secret,
    engine,
    bundles,
    env: (variant, overrides = {}) =>
      handlerEnvironment({ name: variant, endpoint: engine.endpoint, tableName: tables.get(variant), secret, ...overrides }),
    progress,
    async close() {
      await engine.stop();
      // BENCH_KEEP=1 leaves the bundles, events and receiver logs for a closer look.
      if (process.env.BENCH_KEEP === "1") progress(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
