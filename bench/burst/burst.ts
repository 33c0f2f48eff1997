import { fork } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { seededRandom, shuffle } from "@stripe-webhooks/testing/random";
import { repoRoot } from "../shared/build.ts";
import { deliveryHeaders, type Payload } from "../shared/events.ts";
import { converse } from "../shared/processes.ts";
import { quantile } from "../shared/stats.ts";
import { effectsByEvent } from "./effects.ts";
import { sendAll, type Delivery } from "./load.ts";
import type { BurstServerReply, BurstServerRequest } from "./server.ts";

/* One burst: a fresh receiver around one handler bundle, a fixed list of deliveries, counted. */

export interface BurstRun {
  deliveriesPerSecond: number;
  wallMs: number;
  /** Responses by status code. */
  statusCounts: Record<string, number>;
  /** Distinct events whose work ran exactly once, more than once, never. */
  ranOnce: number;
  ranMoreThanOnce: number;
  neverRan: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  serverMaxRssKiB: number;
}

/**
 * The delivery order: every payload once plus `total - payloads.length` redeliveries of random
 * ones, shuffled, so some duplicates race their original and others come long after it.
 */
export function deliveryOrder(payloads: readonly Payload[], total: number, seed: number): Payload[] {
  const random = seededRandom(seed);
  const extra = Array.from({ length: Math.max(0, total - payloads.length) }, () => {
    const payload = payloads[Math.floor(random() * payloads.length)];
    if (!payload) throw new Error("no payloads");
    return payload;
  });
  return shuffle(random, [...payloads, ...extra]);
}

async function startServer(
  bundle: string,
  keyAttribute: "pk" | "id",
  env: NodeJS.ProcessEnv,
  logFile: string,
): Promise<{ port: number; stop(): Promise<number> }> {
  const logFd = openSync(logFile, "w");
  const child = fork(join(repoRoot, "bench/burst/server.ts"), [bundle, keyAttribute], {
    cwd: repoRoot,
    env,
    execArgv: ["--import", "tsx"],
    // Both streams: Powertools writes WARN and ERROR lines to stderr.
    stdio: ["ignore", logFd, logFd, "ipc"],
  });
  closeSync(logFd);
  const talk = converse<BurstServerRequest, BurstServerReply>(child, "burst server", () => readFileSync(logFile, "utf8").slice(-4000));
  const ready = await talk.next();
  if (ready.kind !== "ready") throw new Error(`burst server: expected ready, got ${ready.kind}`);
  return {
    port: ready.port,
    async stop() {
      const stopped = await talk.next({ kind: "stop" });
      return stopped.kind === "stopped" ? stopped.maxRssKiB : 0;
    },
  };
}

/** Runs the deliveries through a fresh receiver around `bundle`; logs go to `logFile`. */
export async function runBurst(options: {
  bundle: string;
  keyAttribute: "pk" | "id";
  env: NodeJS.ProcessEnv;
  order: readonly Payload[];
  secret: string;
  concurrency: number;
  logFile: string;
}): Promise<BurstRun> {
  const server = await startServer(options.bundle, options.keyAttribute, options.env, options.logFile);
  // Signed just before sending, as Stripe signs each delivery when it makes it.
  const deliveries: Delivery[] = options.order.map((payload) => ({
    eventId: payload.id,
    body: payload.body,
    headers: deliveryHeaders(payload, options.secret),
  }));
  const load = await sendAll(new URL(`http://127.0.0.1:${server.port}/stripe/webhook`), deliveries, options.concurrency);
  const serverMaxRssKiB = await server.stop();

  const effects = effectsByEvent(options.logFile);
  const distinct = new Set(options.order.map((payload) => payload.id));
  let ranOnce = 0;
  let ranMoreThanOnce = 0;
  for (const id of distinct) {
    const runs = effects.get(id) ?? 0;
    if (runs === 1) ranOnce += 1;
    if (runs > 1) ranMoreThanOnce += 1;
  }
  const statusCounts: Record<string, number> = {};
  for (const status of load.statusCodes) statusCounts[status] = (statusCounts[status] ?? 0) + 1;
  return {
    deliveriesPerSecond: deliveries.length / (load.wallMs / 1000),
    wallMs: load.wallMs,
    statusCounts,
    ranOnce,
    ranMoreThanOnce,
    neverRan: distinct.size - ranOnce - ranMoreThanOnce,
    latencyP50Ms: quantile(load.latenciesMs, 0.5),
    latencyP99Ms: quantile(load.latenciesMs, 0.99),
    serverMaxRssKiB,
  };
}
