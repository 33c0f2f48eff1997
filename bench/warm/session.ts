import { fork, spawn, spawnSync, type SpawnOptions } from "node:child_process";
import { cpus } from "node:os";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Plugin } from "esbuild";
import { buildHandler, buildHarness, repoRoot, type BuildEntry } from "../shared/build.ts";
import { converse, tail, type Conversation } from "../shared/processes.ts";
import { rotation, summarize } from "../shared/stats.ts";
import type { SizeName, WarmEvents, WarmPlanFile, WarmReply, WarmRequest } from "./protocol.ts";

/*
 * The runner's side of a warm child (child.ts): the replaying bundles it imports, the CPU it is
 * pinned to, and the conversation over IPC. Shared by every measurement that compares warm
 * handlers in one process (warm/ for the variants, effects/ for a staged effect).
 */

const replayClient = join(repoRoot, "bench/warm/replay-client.ts");

// Points every import of the DynamoDB client package at the replaying stand-in, except the
// stand-in's own import of the real package.
const replayDynamo: Plugin = {
  name: "bench-replay-dynamodb",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^@aws-sdk\/client-dynamodb$/ }, (args) =>
      args.importer === replayClient ? undefined : { path: replayClient },
    );
  },
};

/** A handler built as deployed but for its DynamoDB client, which records and replays (tape.ts). */
export async function buildReplayHandler(entry: BuildEntry, outfile: string): Promise<string> {
  return (await buildHandler(entry, outfile, [replayDynamo])).file;
}

/** The warm child itself, built once per measurement. */
export function buildWarmHarness(dir: string): Promise<string> {
  return buildHarness("bench/warm/child.ts", join(dir, "warm-child.mjs"));
}

/** One handler in a warm child: its replay bundle and the environment it is imported with. */
export interface WarmHandler {
  name: string;
  bundle: string;
  env: NodeJS.ProcessEnv;
}

/** A warm child process with the handlers it was given. */
export interface WarmProcess {
  batch(handler: string, size: SizeName, events: number): Promise<Extract<WarmReply, { kind: "batch" }>>;
  /** Stops the process; resolves with its peak RSS in KiB. */
  stop(): Promise<number>;
}

/**
 * The CPU to pin warm processes to, where `taskset` exists and there is more than one. Left to
 * the scheduler, the allocation-heavy variants ran slower for seconds at a time and then fast
 * again, ours much less so, which moved the ratios round by round; pinned, they stay fast. The
 * likely cause is the process landing on the runner's CPU, whose work between batches evicts
 * the handlers' caches.
 */
export function pinnableCpu(): number | undefined {
  const count = cpus().length;
  if (count < 2) return undefined;
  return spawnSync("taskset", ["-c", "0", "true"]).status === 0 ? count - 1 : undefined;
}

/**
 * Starts a warm child that imports `handlers` in order, records each one's DynamoDB results over
 * `events`, and then answers batch requests; `cpu` pins it (see {@link pinnableCpu}).
 */
export async function startWarm(options: {
  dir: string;
  harness: string;
  cpu: number | undefined;
  handlers: readonly WarmHandler[];
  events: WarmEvents;
  /** The child's own environment, before any handler's is applied. */
  env: NodeJS.ProcessEnv;
}): Promise<WarmProcess> {
  const { handlers, cpu } = options;
  const plan: WarmPlanFile = {
    variants: handlers.map((h) => ({ name: h.name, bundle: h.bundle, env: strings(h.env) })),
    events: options.events,
  };
  const file = join(options.dir, `warm-${handlers.map((h) => h.name).join("-")}.json`);
  writeFileSync(file, JSON.stringify(plan));
  const spawnOptions = { env: options.env, stdio: ["ignore", "ignore", "pipe", "ipc"] } satisfies SpawnOptions;
  const child =
    cpu === undefined
      ? fork(options.harness, [file], spawnOptions)
      : spawn("taskset", ["-c", String(cpu), process.execPath, options.harness, file], spawnOptions);
  const talk: Conversation<WarmRequest, WarmReply> = converse(child, "warm child", tail(child.stderr));
  async function expect<K extends WarmReply["kind"]>(kind: K, request?: WarmRequest): Promise<Extract<WarmReply, { kind: K }>> {
    const reply = await talk.next(request);
    if (reply.kind === "failed") throw new Error(`warm child: ${reply.message}`);
    if (reply.kind !== kind) throw new Error(`warm child: expected ${kind}, got ${reply.kind}`);
    return reply as Extract<WarmReply, { kind: K }>;
  }
  await expect("ready");
  return {
    batch: (handler, size, count) => expect("batch", { kind: "batch", variant: handler, size, events: count }),
    stop: async () => (await expect("stopped", { kind: "stop" })).maxRssKiB,
  };
}

function strings(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** How one size is measured in a warm child. */
export interface RoundPlan {
  /** Distinct events, recorded once; batches cycle through them. */
  distinct: number;
  /**
   * Events per batch. CPU is read around a batch, never one event; batches are short enough
   * that most run undisturbed by a collection or an interruption, so their median is the work.
   */
  batchEvents: number;
  /**
   * Batches per handler in a round, interleaved with the other handlers' batches. A round must
   * span several of the shared heap's collection cycles: allocation-heavy code (the SDK's
   * default client rebuilds its middleware stack on every send) runs slower while V8 marks,
   * and a round that caught more marking than the next would move the ratios with it.
   */
  batchesPerRound: number;
  /**
   * Events per handler run and thrown away before the first round: V8 keeps optimizing the
   * handlers for thousands of events, and a warm Lambda container has long done so.
   */
  warmupEvents: number;
  rounds: number;
}

/** The plan of each size, the same wherever warm CPU is measured; BENCH_SMOKE's only proves it runs. */
export function roundPlans(smoke: boolean): Record<SizeName, RoundPlan> {
  if (smoke) {
    return {
      small: { distinct: 4, batchEvents: 4, batchesPerRound: 3, warmupEvents: 12, rounds: 2 },
      large: { distinct: 2, batchEvents: 2, batchesPerRound: 3, warmupEvents: 6, rounds: 2 },
    };
  }
  return {
    small: { distinct: 40, batchEvents: 20, batchesPerRound: 160, warmupEvents: 6000, rounds: 10 },
    large: { distinct: 10, batchEvents: 4, batchesPerRound: 40, warmupEvents: 1200, rounds: 10 },
  };
}

/** Per measured round and handler: its median batch and its mean (all CPU ÷ events), µs per event. */
export interface RoundSeries<Name extends string> {
  medians: Record<Name, number[]>;
  means: Record<Name, number[]>;
  /** DynamoDB commands replayed per event in the last batch, per handler. */
  commandsPerEvent: Record<Name, number>;
}

function perName<Name extends string, T>(names: readonly Name[], make: () => T): Record<Name, T> {
  return Object.fromEntries(names.map((name) => [name, make()])) as Record<Name, T>;
}

/**
 * Runs the warm-up and then `plan.rounds` rounds of one size: in each, every handler's batches
 * in turn, the order rotated every batch so no handler always runs first or after the same one.
 */
export async function interleavedRounds<Name extends string>(
  warm: WarmProcess,
  names: readonly Name[],
  size: SizeName,
  plan: RoundPlan,
  progress: (message: string) => void,
): Promise<RoundSeries<Name>> {
  const series: RoundSeries<Name> = {
    medians: perName(names, (): number[] => []),
    means: perName(names, (): number[] => []),
    commandsPerEvent: perName(names, () => 0),
  };
  const warmupRounds = Math.ceil(plan.warmupEvents / (plan.batchesPerRound * plan.batchEvents));
  for (let round = 0; round < warmupRounds + plan.rounds; round += 1) {
    const measured = round - warmupRounds + 1;
    if (round === 0) progress(`${size}: warm-up`);
    else if (measured >= 1) progress(`${size}: round ${measured}/${plan.rounds}`);
    const batches = perName(names, (): number[] => []);
    const cpu = perName(names, () => 0);
    const counted = perName(names, () => 0);
    for (let b = 0; b < plan.batchesPerRound; b += 1) {
      for (const name of rotation(names, round * plan.batchesPerRound + b)) {
        const result = await warm.batch(name, size, plan.batchEvents);
        batches[name].push(result.cpuMicros / result.events);
        cpu[name] += result.cpuMicros;
        counted[name] += result.events;
        series.commandsPerEvent[name] = result.replayedCommands / result.events;
      }
    }
    if (measured < 1) continue;
    for (const name of names) {
      series.medians[name].push(summarize(batches[name]).median);
      series.means[name].push(cpu[name] / counted[name]);
    }
  }
  return series;
}
