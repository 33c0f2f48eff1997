import { existsSync } from "node:fs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Resource } from "sst";
import { dynamoDataPath, readReceiverState } from "./data-dir.ts";
import { dynamoClient, ledgerTableName, localRegion, startDynalite } from "./local-dynamo.ts";

/*
 * Which ledger table the events tool reads, in this order:
 * 1. a deployed stage's, under `sst shell --stage <name>` (SST links Resource.Ledger);
 * 2. DYNAMODB_ENDPOINT + LEDGER_TABLE, the same override the receiver takes;
 * 3. the running local receiver's, through its DynamoDB endpoint (LevelDB admits one process);
 * 4. the data directory of a stopped receiver, opened with a short-lived dynalite.
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

  const path = dynamoDataPath(dataDir);
  if (existsSync(path)) {
    const dynamo = await startDynalite(path);
    const client = dynamoClient(dynamo.endpoint, region);
    const tableName = ledgerTableName();
    return {
      client,
      tableName,
      description: `${path} (receiver stopped), table ${tableName}`,
      close: async () => {
        client.destroy();
        await dynamo.close();
      },
    };
  }

  throw new Error(
    `no ledger found: no receiver is running on ${dataDir} and it holds no data. ` +
      "Start one with `npm start`, or run under `sst shell --stage <name>` for a deployed stage.",
  );
}
