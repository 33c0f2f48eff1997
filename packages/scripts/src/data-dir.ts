import { spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "./cli.ts";

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

/** Where the local receiver's SQS FIFO stand-in keeps its journal. */
export function queueDataPath(dataDir: string): string {
  return join(dataDir, "queue");
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
  /** How it processes events (`npm start -- --inline` or the queued default); absent from older receivers. */
  processing?: "queued" | "inline";
  /** Queued: the stand-in queue's journal directory, undefined when it is a temporary one (--memory). */
  queueDir?: string;
  startedAt: string;
  /** The `stripe listen` it runs, if any: a receiver killed outright cannot stop it. */
  stripeListenPid?: number;
  /** The fingerprint of the `stripe listen` secret it trusts (signing-secrets.ts), never the secret. */
  stripeListenFingerprint?: string;
  /**
   * Its command line as `ps` showed it at start: a process id the system has since given to
   * another program shows a different one.
   */
  command?: string;
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

/** The command line `ps` shows for a process, or undefined when there is no such process. */
export function processCommand(pid: number): string | undefined {
  // `ps -o command=` prints the full command line on Linux and macOS alike.
  const shown = spawnSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" });
  return shown.status === 0 ? shown.stdout.trim() : undefined;
}

/** This process's command line, as others will see it through {@link processCommand}. */
export const ownCommand = (): string | undefined => processCommand(process.pid);

/**
 * Whether `pid` still runs the program that recorded `command`. Without a recorded command
 * (a state file from an older receiver), any receiver's command line will do.
 */
function stillRunning(pid: number, command: string | undefined): boolean {
  if (!processAlive(pid)) return false;
  const shown = processCommand(pid);
  // ps unavailable or refusing: only the liveness is known, and a live process wins.
  if (shown === undefined) return true;
  return command === undefined ? /\breceiver\.ts\b/.test(shown) : shown === command;
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

/**
 * The running receiver's state, or undefined when none runs. A stale file is ignored: one whose
 * process is gone, or whose process id now names another program (checked by its command line).
 */
export function readReceiverState(dataDir: string): ReceiverState | undefined {
  const state = readStateFile(dataDir);
  return state && stillRunning(state.pid, state.command) ? state : undefined;
}

/** The state a receiver left behind when it was killed outright; undefined otherwise. */
export function staleReceiverState(dataDir: string): ReceiverState | undefined {
  const state = readStateFile(dataDir);
  return state && !stillRunning(state.pid, state.command) ? state : undefined;
}

/**
 * The `stripe listen` a receiver that is no longer running left behind: one killed outright
 * (SIGKILL, a crash of the terminal) never stopped its CLI, which goes on forwarding Stripe's
 * events to a dead port. Its process id and the URL it forwards to; undefined when there is none,
 * or when that process is gone.
 */
export function leftoverStripeListen(dataDir: string): { pid: number; forwardTo: string } | undefined {
  const state = readStateFile(dataDir);
  if (state?.stripeListenPid === undefined || stillRunning(state.pid, state.command)) return undefined;
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

/*
 * One process at a time owns a data directory's ledger files: `receiver.lock`, created
 * atomically (a complete file linked into place, which fails if one exists) and holding the
 * owner's pid and command line. A lock whose process is gone or now runs another program was
 * left by a process killed outright, and is taken over.
 */

interface LockFile {
  pid: number;
  command?: string;
  what: string;
}

export interface DataDirLock {
  release(): void;
}

/** Another process holds the data directory: a setting to change, so a usage error (exit 2). */
export class DataDirInUseError extends UsageError {
  override name = "DataDirInUseError";
}

function lockPath(dataDir: string): string {
  return join(dataDir, "receiver.lock");
}

function readLock(path: string): LockFile | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LockFile;
  } catch {
    return undefined;
  }
}

function tryLink(temp: string, path: string): boolean {
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Takes the data directory for this process (`what` says who: "receiver", "npm run events"...),
 * or throws {@link DataDirInUseError} naming the process that holds it.
 */
export function lockDataDir(dataDir: string, what: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = lockPath(dataDir);
  const temp = `${path}.${process.pid}`;
  const mine: LockFile = { pid: process.pid, what, ...(ownCommand() === undefined ? {} : { command: ownCommand() }) };
  writeFileSync(temp, `${JSON.stringify(mine)}\n`);
  try {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (tryLink(temp, path)) {
        return {
          release: () => {
            if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
          },
        };
      }
      const holder = readLock(path);
      if (holder && stillRunning(holder.pid, holder.command)) {
        const running = readReceiverState(dataDir);
        const where = running?.pid === holder.pid ? `, ${running.url}` : "";
        throw new DataDirInUseError(
          `another ${holder.what} (pid ${holder.pid}${where}) is using ${dataDir}. ` +
            `Stop it, or give this one its own DATA_DIR.`,
        );
      }
      // Left by a process killed outright (or unreadable): taken over once.
      rmSync(path, { force: true });
    }
    throw new DataDirInUseError(`another process took ${dataDir} at the same moment. Stop it, or give this one its own DATA_DIR.`);
  } finally {
    rmSync(temp, { force: true });
  }
}
