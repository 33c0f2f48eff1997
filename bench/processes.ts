import { fork, spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import type { ColdReport, SizeName, WarmReply, WarmRequest } from "./child/protocol.ts";

/* Child processes of the bench: each is bounded by a timeout and killed when it overruns. */

const childTimeoutMs = 60_000;

function tail(stream: Readable | null): () => string {
  let text = "";
  stream?.on("data", (chunk: Buffer) => (text = `${text}${chunk.toString("utf8")}`.slice(-4000)));
  return () => text;
}

function killAfter(child: ChildProcess, ms: number, what: string, reject: (error: Error) => void): NodeJS.Timeout {
  return setTimeout(() => {
    child.kill("SIGKILL");
    reject(new Error(`${what} did not finish within ${ms / 1000} s`));
  }, ms);
}

/**
 * Runs `node <script> ...args` and resolves with the one JSON line it writes to fd 3, plus the
 * milliseconds from just before the spawn to the moment that line arrived.
 */
export function runReporting<T>(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ report: T; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ["ignore", "ignore", "pipe", "pipe"] });
    const stderr = tail(child.stderr);
    const timer = killAfter(child, childTimeoutMs, script, reject);
    let line = "";
    let elapsedMs = 0;
    const channel = child.stdio[3] as Readable;
    channel.on("data", (chunk: Buffer) => {
      line += chunk.toString("utf8");
      if (elapsedMs === 0 && line.includes("\n")) elapsedMs = performance.now() - started;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0 || !line.includes("\n")) {
        reject(new Error(`${script} ${args.join(" ")} exited ${code} without a report:\n${stderr()}`));
        return;
      }
      resolve({ report: JSON.parse(line) as T, elapsedMs });
    });
  });
}

/** A cold start: a fresh process imports the bundle and handles one event (none for probes). */
export function runCold(
  harness: string,
  bundle: string,
  eventFile: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<{ report: ColdReport; elapsedMs: number }> {
  return runReporting<ColdReport>(harness, eventFile ? [bundle, eventFile] : [bundle], env);
}

/** A warm handler process that runs measured rounds on request (see child/warm.ts). */
export interface WarmProcess {
  round(size: SizeName): Promise<{ cpuMicros: number; events: number; replayedCommands: number }>;
  /** Stops the process; resolves with its peak RSS in KiB. */
  stop(): Promise<number>;
}

export async function startWarm(
  harness: string,
  bundle: string,
  eventsFile: string,
  env: NodeJS.ProcessEnv,
): Promise<WarmProcess> {
  const child = fork(harness, [bundle, eventsFile], { env, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  const stderr = tail(child.stderr);
  let waiting: { resolve: (reply: WarmReply) => void; reject: (error: Error) => void } | undefined;
  const failed = (message: string) => new Error(`${bundle}: ${message}\n${stderr()}`);
  child.on("message", (reply: WarmReply) => {
    const current = waiting;
    waiting = undefined;
    if (reply.kind === "failed") current?.reject(failed(reply.message));
    else current?.resolve(reply);
  });
  child.on("exit", (code) => waiting?.reject(failed(`exited with ${code}`)));

  function next(request?: WarmRequest): Promise<WarmReply> {
    return new Promise((resolve, reject) => {
      const timer = killAfter(child, childTimeoutMs, `warm ${bundle}`, reject);
      waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (request) child.send(request);
    });
  }

  const ready = await next();
  if (ready.kind !== "ready") throw failed(`expected ready, got ${ready.kind}`);
  return {
    async round(size) {
      const reply = await next({ kind: "round", size });
      if (reply.kind !== "round") throw failed(`expected a round, got ${reply.kind}`);
      return reply;
    },
    async stop() {
      const reply = await next({ kind: "stop" });
      return reply.kind === "stopped" ? reply.maxRssKiB : 0;
    },
  };
}
