import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Registration } from "./mocks.ts";
import type { BuildRecord } from "./rpc-server.ts";

/** What runner.ts reports for one synth of a config at a stage. */
export interface SynthResult {
  ok: boolean;
  error?: string;
  stuck?: string[];
  errors: string[];
  /** What the program logged with Pulumi's log.warn. */
  warnings: string[];
  /** app()'s result, as the CLI would read it (only when the run completed). */
  app?: { providers: Record<string, Record<string, unknown>> } & Record<string, unknown>;
  outputs?: Record<string, unknown>;
  builds?: BuildRecord[];
  registrations: Registration[];
  /** Every resource the program constructed, registered or not (components too). */
  constructed: { type: string; name: string; custom: boolean }[];
  scratch: string;
}

export interface SynthOptions {
  /** Variables of the deploying environment (STRIPE_API_KEY, SST_SECRET_...). */
  env?: Record<string, string>;
  /** Edits to infra/stage.ts's presets for this run, by preset name (see runner.ts). */
  stagePatch?: Record<string, Record<string, unknown>>;
  /** Run on a platform whose protection and authorization defaults have changed (see runner.ts). */
  flipSstDefaults?: boolean;
}

export const root = resolve(import.meta.dirname, "../../..");
const tsxCli = join(root, "node_modules", "tsx", "dist", "cli.mjs");
const runner = join(import.meta.dirname, "runner.ts");

// Variables the config reads; each synth starts from none of them so cases stay independent.
const configVariables = ["SST_SECRET_StripeWebhookSecret", "STRIPE_API_KEY", "SYNTH_STAGE_PATCH", "SYNTH_FLIP_SST_DEFAULTS", "AWS_REGION", "AWS_DEFAULT_REGION"];

// Each run is a process that bundles and evaluates the whole program; more of them at once than
// there are cores only makes each slower.
const slots = Math.max(2, availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];

async function inSlot<T>(task: () => Promise<T>): Promise<T> {
  if (running >= slots) await new Promise<void>((resolveSlot) => waiting.push(resolveSlot));
  running++;
  try {
    return await task();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Runs runner.ts in a fresh process (Pulumi's runtime is a per-process singleton). */
export function synth(config: string, stage: string, options: SynthOptions = {}): Promise<SynthResult> {
  const env = options.env ?? {};
  return inSlot(
    () =>
      new Promise((resolvePromise, reject) => {
        const dir = mkdtempSync(join(tmpdir(), "synth-"));
        const resultFile = join(dir, "result.json");
        const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
        for (const name of configVariables) if (!(name in env)) delete childEnv[name];
        if (options.stagePatch) childEnv.SYNTH_STAGE_PATCH = JSON.stringify(options.stagePatch);
        if (options.flipSstDefaults) childEnv.SYNTH_FLIP_SST_DEFAULTS = "1";
        execFile(
          process.execPath,
          [tsxCli, runner, resolve(root, config), stage, resultFile],
          { cwd: root, env: childEnv, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
          (error, _stdout, stderr) => {
            try {
              resolvePromise(JSON.parse(readFileSync(resultFile, "utf8")) as SynthResult);
            } catch {
              reject(new Error(`synth of ${config} (${stage}) wrote no result: ${error?.message ?? ""}\n${stderr}`));
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
          },
        );
      }),
  );
}

const secretSignature = "4dabf18193072939515e22adb298388d";

/** Pulumi wraps secret inputs in a marker object; tests compare the plain values. */
export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value === null || typeof value !== "object") return value;
  const record = value as Record<string, unknown>;
  if (secretSignature in record) return unwrapSecrets(record.value);
  return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, unwrapSecrets(item)]));
}

/** The inputs of the one registered resource of `type` (throws unless exactly one). */
export function only(result: SynthResult, type: string): Record<string, unknown> {
  const found = result.registrations.filter((r) => r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return unwrapSecrets(found[0]!.inputs) as Record<string, unknown>;
}

export function all(result: SynthResult, type: string): Record<string, unknown>[] {
  return result.registrations.filter((r) => r.type === type).map((r) => unwrapSecrets(r.inputs) as Record<string, unknown>);
}

/** The inputs of the registered resource of `type` named `name` (throws when there is none). */
export function named(result: SynthResult, type: string, name: string): Record<string, unknown> {
  const found = result.registrations.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}; found ${result.registrations.filter((r) => r.type === type).map((r) => r.name).join(", ") || "none"}`);
  return unwrapSecrets(found.inputs) as Record<string, unknown>;
}
