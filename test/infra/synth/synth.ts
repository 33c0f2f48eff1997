import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Registration } from "./mocks.ts";
import type { BuildRecord } from "./rpc-server.ts";

/** What runner.ts reports for one synth of a config at a stage. */
export interface SynthResult {
  ok: boolean;
  error?: string;
  stuck?: string[];
  errors: string[];
  outputs?: Record<string, unknown>;
  builds?: BuildRecord[];
  registrations: Registration[];
  scratch: string;
  /** Wall-clock milliseconds of the whole child process. */
  elapsedMs: number;
}

export const root = resolve(import.meta.dirname, "../../..");
const tsxCli = join(root, "node_modules", "tsx", "dist", "cli.mjs");
const runner = join(import.meta.dirname, "runner.ts");

// Variables the config reads; each synth starts from none of them so cases stay independent.
const configVariables = ["SST_SECRET_StripeWebhookSecret", "STRIPE_WEBHOOKS_DOMAIN", "STRIPE_API_KEY"];

/** Runs runner.ts in a fresh process (Pulumi's runtime is a per-process singleton). */
export function synth(config: string, stage: string, env: Record<string, string> = {}): Promise<SynthResult> {
  const dir = mkdtempSync(join(tmpdir(), "synth-"));
  const resultFile = join(dir, "result.json");
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of configVariables) if (!(name in env)) delete childEnv[name];
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [tsxCli, runner, resolve(root, config), stage, resultFile],
      { cwd: root, env: childEnv, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        const elapsedMs = Date.now() - started;
        try {
          const result = JSON.parse(readFileSync(resultFile, "utf8")) as Omit<SynthResult, "elapsedMs">;
          resolvePromise({ ...result, elapsedMs });
        } catch {
          reject(new Error(`synth of ${config} (${stage}) wrote no result: ${error?.message ?? ""}\n${stderr}`));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
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
