/// <reference path="../../../types/dynalite.d.ts" />
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { ledgerCreateTableInput, ledgerTable, ledgerTimeToLive } from "@stripe-webhooks/core/ledger-table";
import dynalite from "dynalite";

/** The ledger table's name locally: LEDGER_TABLE, else a fixed local name. */
export function ledgerTableName(): string {
  return process.env.LEDGER_TABLE || "stripe-webhooks-local-ledger";
}

/** The region local clients sign for; local engines accept any. */
export function localRegion(): string {
  return process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1";
}

/** Any credentials do for dynalite and DynamoDB Local; the SDK only insists on having some. */
export const localCredentials = { accessKeyId: "local", secretAccessKey: "local" };

export interface EmbeddedDynamo {
  endpoint: string;
  /** Stops the server once its requests are done and closes LevelDB, flushing it to disk. */
  close(): Promise<void>;
}

/** Starts dynalite on a random loopback port, persisted at `path` or in memory without one. */
export async function startDynalite(path: string | undefined): Promise<EmbeddedDynamo> {
  if (path) mkdirSync(path, { recursive: true });
  // Tables become ACTIVE at once rather than after dynalite's default half second.
  const server = dynalite({ ...(path ? { path } : {}), createTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** True for endpoints on this machine, which never need real AWS credentials. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === "localhost" || host === "[::1]" || host.startsWith("127.");
}

/** A client for a DynamoDB endpoint; loopback endpoints get placeholder credentials. */
export function dynamoClient(endpoint: string, region: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region,
    ...(isLoopbackEndpoint(endpoint) ? { credentials: localCredentials } : {}),
  });
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  // Real DynamoDB takes seconds to create a table, local engines milliseconds.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") return;
    if (Date.now() > deadline) throw new Error(`Table ${tableName} did not become ACTIVE`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Makes sure the ledger table exists with infra's key schema: creates it (and its TTL) when
 * missing, refuses one keyed differently. Returns whether it was created.
 */
export async function ensureLedgerTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const hashKey = Table?.KeySchema?.find((key) => key.KeyType === "HASH")?.AttributeName;
    if (hashKey !== ledgerTable.partitionKey || (Table?.KeySchema?.length ?? 0) !== 1) {
      throw new Error(
        `Table ${tableName} exists but is not keyed like the ledger (hash key ` +
          `"${ledgerTable.partitionKey}" only); pick another table name with LEDGER_TABLE.`,
      );
    }
    await waitUntilActive(client, tableName);
    return false;
  } catch (error) {
    if (errorName(error) !== "ResourceNotFoundException") throw error;
  }
  await client.send(new CreateTableCommand(ledgerCreateTableInput(tableName)));
  await waitUntilActive(client, tableName);
  try {
    await client.send(new UpdateTimeToLiveCommand(ledgerTimeToLive(tableName)));
  } catch (error) {
    // dynalite has no TTL API (it would not expire items anyway); a local ledger simply keeps
    // its items until the data directory is deleted.
    if (errorName(error) !== "UnknownOperationException") throw error;
  }
  return true;
}
