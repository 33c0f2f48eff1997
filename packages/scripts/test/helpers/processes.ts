import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../src/data-dir.ts";

/*
 * Runs the real npm scripts (`npm start`, `npm run trigger`, `npm run events`) as a developer
 * would, in their own process groups so a failed test never leaves a receiver behind.
 */

// Variables a developer's shell may hold that would steer the tools away from the test's setup.
const steering = [
  "PORT",
  "DATA_DIR",
  "DYNAMODB_ENDPOINT",
  "LEDGER_TABLE",
  "STRIPE_WEBHOOK_SECRET",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "POWERTOOLS_LOG_LEVEL",
  // With a key, `npm start` runs the Stripe CLI against Stripe (or the given API base).
  "STRIPE_API_KEY",
  "STRIPE_CLI_API_BASE",
  "STRIPE_API_BASE",
  "STRIPE_WEBHOOK_ENDPOINT_ID",
];

function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const name of steering) delete env[name];
  // SST's links and key (`sst shell`) would point the tools at a deployed stage.
  for (const name of Object.keys(env)) if (name.startsWith("SST_")) delete env[name];
  return { ...env, ...extra };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exited(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

export interface Receiver {
  url: string;
  pid: number;
  dynamodbEndpoint: string;
  output(): string;
  /** Resolves when `pattern` appears in the output (stdout and stderr). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` to the receiver itself (not npm) and waits for `npm start` to exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  /**
   * Sends `signal` to the whole process group (npm, its shell and the receiver), as Ctrl+C in a
   * terminal does.
   */
  signalGroup(signal: NodeJS.Signals): void;
  exit: Promise<Exit>;
  /** Kills the whole process group; for cleanup after a failed test. */
  kill(): void;
}

export interface StartOptions {
  /**
   * `inline` (the default here) adds --inline: the suites written before queued processing assert
   * what only the inline path does (the answer says `processed`, a failing handler answers 500).
   * `queued` starts `npm start` as a developer does (queued.e2e.test.ts).
   */
  processing?: "queued" | "inline";
}

/** Starts `npm start -- ...args` and resolves once it printed its ready line. */
export async function startReceiver(env: Record<string, string>, args: string[] = [], options: StartOptions = {}): Promise<Receiver> {
  const mode = (options.processing ?? "inline") === "inline" ? ["--inline"] : [];
  const child = spawn("npm", ["run", "--silent", "start", "--", ...mode, ...args], {
    cwd: repoRoot,
    env: environment(env),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exit = exited(child);

  const waitFor = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output);
        if (match) {
          cleanup();
          resolve(match[0]);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${pattern}; output:\n${output}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exit.then(() => {
        check();
        if (listeners.has(check)) {
          cleanup();
          reject(new Error(`receiver exited before ${pattern}; output:\n${output}`));
        }
      });
      check();
    });

  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };

  let ready: string;
  try {
    ready = await waitFor(/^ready url=\S+ dynamodb=\S+ table=\S+ pid=\d+$/m);
  } catch (error) {
    kill();
    throw error;
  }
  const fields = Object.fromEntries(ready.split(" ").slice(1).map((pair) => pair.split("=", 2) as [string, string]));
  const pid = Number(fields.pid);
  return {
    url: fields.url ?? "",
    pid,
    dynamodbEndpoint: fields.dynamodb ?? "",
    output: () => output,
    waitFor,
    stop: async (signal = "SIGTERM") => {
      process.kill(pid, signal);
      return exit;
    },
    signalGroup: (signal) => {
      if (child.pid) process.kill(-child.pid, signal);
    },
    exit,
    kill,
  };
}

/**
 * Stops a receiver as Ctrl+C would, and kills its whole process group if it has not exited
 * within `graceMs`, so a hung shutdown never outlives the suite.
 */
export async function stopReceiver(receiver: Receiver, graceMs = 10_000): Promise<void> {
  const exit = await Promise.race([receiver.stop("SIGTERM"), new Promise((resolve) => setTimeout(resolve, graceMs))]);
  if (!exit) receiver.kill();
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run <script> -- ...args` to completion. */
export function runScript(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn("npm", ["run", "--silent", script, "--", ...args], {
    cwd: repoRoot,
    env: environment(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return exited(child).then(({ code }) => ({ code, stdout, stderr }));
}

/** A fresh directory, removed by the returned function. */
export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "receiver-e2e-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
