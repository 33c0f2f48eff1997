import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";

/* The bench's side of its child processes: each wait is bounded, and an overrun kills the child. */

const childTimeoutMs = 60_000;

/** The last few KB of a stream, for error messages. */
export function tail(stream: Readable | null): () => string {
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
 * Runs `node <script> ...args` and resolves with the one JSON line it writes to fd 3 (see
 * child.ts), plus the milliseconds from just before the spawn to the moment that line arrived.
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

/** A forked child driven over IPC: it speaks once ready, then answers each request in turn. */
export interface Conversation<Request, Reply> {
  /** Sends `request` (if any) and resolves with the child's next message. */
  next(request?: Request): Promise<Reply>;
}

/**
 * Talks to a child forked with an IPC channel. Messages are taken in the order they arrive; a
 * child that exits, or stays silent past the timeout, fails the wait with `output()` attached.
 */
export function converse<Request, Reply>(child: ChildProcess, what: string, output: () => string): Conversation<Request, Reply> {
  const arrived: Reply[] = [];
  let wake: (() => void) | undefined;
  child.on("message", (message: Reply) => {
    arrived.push(message);
    wake?.();
  });
  child.on("exit", () => wake?.());
  return {
    next(request) {
      if (request !== undefined) child.send(request as object);
      return new Promise((resolve, reject) => {
        const timer = killAfter(child, childTimeoutMs, what, (error) => reject(new Error(`${error.message}\n${output()}`)));
        wake = () => {
          const message = arrived.shift();
          if (message === undefined && child.exitCode === null && child.signalCode === null) return;
          clearTimeout(timer);
          wake = undefined;
          if (message !== undefined) resolve(message);
          else reject(new Error(`${what} exited with ${child.exitCode ?? child.signalCode}\n${output()}`));
        };
        wake();
      });
    },
  };
}
