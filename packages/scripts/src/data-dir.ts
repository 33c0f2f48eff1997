import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/*
 * The local data directory (default `.data/local`, git-ignored) holds the ledger's LevelDB
 * files, the generated signing secret, and, while a receiver runs, `receiver.json`: how the
 * trigger and events tools find that receiver. They cannot open the LevelDB files themselves
 * while the receiver has them open, so they talk to its DynamoDB endpoint instead.
 */

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export const defaultDataDir = join(repoRoot, ".data", "local");

/** The data directory from a flag, else DATA_DIR, else the default; relative to the cwd. */
export function resolveDataDir(flag: string | undefined): string {
  const value = flag ?? process.env.DATA_DIR;
  return value ? resolve(value) : defaultDataDir;
}

/** Where the embedded DynamoDB keeps its LevelDB files. */
export function dynamoDataPath(dataDir: string): string {
  return join(dataDir, "dynamodb");
}

/** What a running receiver publishes about itself. */
export interface ReceiverState {
  pid: number;
  /** The webhook URL, path included. */
  url: string;
  dynamodbEndpoint: string;
  tableName: string;
  region: string;
  /** False when the ledger lives in memory (`--memory`) or at an external endpoint. */
  persisted: boolean;
  /** "env" when STRIPE_WEBHOOK_SECRET was given, so the stored secret does not apply. */
  secretSource: "env" | "stored";
  startedAt: string;
  /** The `stripe listen` it runs, if any: a receiver killed outright cannot stop it. */
  stripeListenPid?: number;
}

function statePath(dataDir: string): string {
  return join(dataDir, "receiver.json");
}

/** True while a process with this id exists (it may belong to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The state file as last written, live or stale; undefined when there is none or it is unreadable. */
function readStateFile(dataDir: string): ReceiverState | undefined {
  const path = statePath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ReceiverState;
  } catch {
    return undefined;
  }
}

/** The running receiver's state, or undefined when none runs (a stale file is ignored). */
export function readReceiverState(dataDir: string): ReceiverState | undefined {
  const state = readStateFile(dataDir);
  return state && processAlive(state.pid) ? state : undefined;
}

/**
 * The `stripe listen` a receiver that is no longer running left behind: one killed outright
 * (SIGKILL, a crash of the terminal) never stopped its CLI, which goes on forwarding Stripe's
 * events to a dead port. Its process id and the URL it forwards to; undefined when there is none,
 * or when that process is gone.
 */
export function leftoverStripeListen(dataDir: string): { pid: number; forwardTo: string } | undefined {
  const state = readStateFile(dataDir);
  if (state?.stripeListenPid === undefined || processAlive(state.pid)) return undefined;
  return processAlive(state.stripeListenPid) ? { pid: state.stripeListenPid, forwardTo: state.url } : undefined;
}

export function writeReceiverState(dataDir: string, state: ReceiverState): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(statePath(dataDir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes the state file if it is this process's (a newer receiver may have replaced it). */
export function removeReceiverState(dataDir: string): void {
  if (readStateFile(dataDir)?.pid !== process.pid) return;
  try {
    rmSync(statePath(dataDir));
  } catch {
    // Removed meanwhile: nothing of ours left.
  }
}
