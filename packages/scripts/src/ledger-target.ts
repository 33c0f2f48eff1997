import { existsSync } from "node:fs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Resource } from "sst";
import { dynamoDataPath, lockDataDir, readReceiverState, staleReceiverState } from "./data-dir.ts";
import { openEmbeddedLedger } from "./embedded-ledger.ts";
import { dynamoClient, ledgerTableName, localRegion, type EmbeddedDynamo } from "./local-dynamo.ts";

/*
 * Which ledger table the events tool reads, in this order:
 * 1. a deployed stage's, under `sst shell --stage <name>` (SST links Resource.Ledger);
 * 2. DYNAMODB_ENDPOINT + LEDGER_TABLE, the same override the receiver takes;
 * 3. the running local receiver's, through its DynamoDB endpoint (LevelDB admits one process);
 * 4. the data directory of a stopped receiver (or one killed outright, whose receiver.json names
 *    a process that is gone or now runs another program), checked and opened with a
 *    short-lived dynalite; damaged files are refused, as the receiver refuses them.
 */

export interface LedgerTarget {
  client: DynamoDBClient;
  tableName: string;
  /** Where the entries come from, for the listing's header. */
  description: string;
  close(): Promise<void>;
}

/** Resource.Ledger when SST links are active (`sst shell`); undefined when they are not. */
function linkedLedger(): { name: string; stage: string } | undefined {
  try {
    return { name: Resource.Ledger.name, stage: Resource.App.stage };
  } catch {
    // Resource throws for a link it does not have: not under `sst shell`.
    return undefined;
  }
}

export async function findLedger(dataDir: string): Promise<LedgerTarget> {
  const region = localRegion();
  const linked = linkedLedger();
  if (linked) {
    // The default credential chain and region, as `sst shell` sets them up for the stage.
    const client = new DynamoDBClient({});
    return {
      client,
      tableName: linked.name,
      description: `stage ${linked.stage}, table ${linked.name}`,
      close: async () => client.destroy(),
    };
  }

  const endpoint = process.env.DYNAMODB_ENDPOINT;
  const running = readReceiverState(dataDir);
  if (endpoint || running) {
    const tableName = endpoint ? ledgerTableName() : (running?.tableName ?? "");
    const url = endpoint ?? running?.dynamodbEndpoint ?? "";
    const client = dynamoClient(url, endpoint ? region : (running?.region ?? region));
    return {
      client,
      tableName,
      description: endpoint
        ? `${url}, table ${tableName}`
        : `running receiver (pid ${running?.pid}), table ${tableName}`,
      close: async () => client.destroy(),
    };
  }

  // A receiver killed outright leaves its receiver.json; the files are then read directly.
  const stale = staleReceiverState(dataDir);
  const path = dynamoDataPath(dataDir);
  if (existsSync(path)) {
    // Held while the files are open, so a receiver started meanwhile says so instead of failing.
    const lock = lockDataDir(dataDir, process.env.npm_lifecycle_event ? `npm run ${process.env.npm_lifecycle_event}` : "tool");
    let dynamo: EmbeddedDynamo;
    try {
      dynamo = await openEmbeddedLedger(dataDir);
    } catch (error) {
      lock.release();
      throw error;
    }
    const client = dynamoClient(dynamo.endpoint, region);
    const tableName = ledgerTableName();
    const state = stale ? `its receiver (pid ${stale.pid}) is gone` : "receiver stopped";
    return {
      client,
      tableName,
      description: `${path} (${state}), table ${tableName}`,
      close: async () => {
        client.destroy();
        try {
          await dynamo.close();
        } finally {
          lock.release();
        }
      },
    };
  }

  if (stale) {
    throw new Error(
      `no ledger found: the receiver that used ${dataDir} (pid ${stale.pid}) is gone` +
        (stale.persisted ? " and its ledger files are missing" : ", and its ledger was not kept on disk") +
        ". Start one with `npm start`, or run under `sst shell --stage <name>` for a deployed stage.",
    );
  }
  throw new Error(
    `no ledger found: no receiver is running on ${dataDir} and it holds no data. ` +
      "Start one with `npm start`, or run under `sst shell --stage <name>` for a deployed stage.",
  );
}
