import { ConditionalCheckFailedException, GetItemCommand, UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { ledgerFailure } from "./ledger.ts";
import { ledgerTable } from "./ledger-table.ts";

/*
 * The reconciler's state: one item per webhook endpoint, of another kind than the ledger's
 * entries, in the ledger table (hence its generic `pk`). It holds the watermark the next run
 * sweeps from and what the last run did. Its failures are the ledger's (`ledgerFailure`): the
 * same table, the same outages.
 */

/** What the reconciler keeps for one endpoint; `Run` is what a run records of itself. */
export interface ReconcilerState<Run = unknown> {
  watermark?: number;
  lastRunAt?: string;
  lastRun?: Run;
}

/** What one run records: when it ended, what it did, and the watermark it reached (if it completed). */
export interface ReconcilerRunRecord<Run> {
  at: string;
  lastRun: Run;
  watermark: number | undefined;
  /** The run completed: its watermark may advance the stored one. */
  advance: boolean;
}

/** Reads and writes one endpoint's state item. */
export interface ReconcilerStateStore<Run> {
  /** The stored state, read consistently; undefined before the endpoint's first run. */
  read(): Promise<ReconcilerState<Run> | undefined>;
  /**
   * Records the run; with `advance`, also its watermark, which only ever moves forward. Runs can
   * overlap (a slow scheduled run and the next one, or `npm run reconcile`): a run that read an
   * older watermark and ends later must not move it back, which would cost the next runs a
   * longer sweep. A run that did not complete records no watermark at all.
   */
  write(record: ReconcilerRunRecord<Run>): Promise<void>;
}

/** The state item's key for an endpoint; never `evt_...`, so the ledger's listings skip it. */
export function reconcilerStateKey(endpointId: string): string {
  return `reconciler#${endpointId}`;
}

/**
 * The state store of the reconciler for `endpointId` (`local` where there is no endpoint), in the
 * ledger table `tableName`. The app builds it over its own client (`app.stage().reconcilerState`),
 * so the reconciler needs no client of its own. Every DynamoDB failure surfaces as
 * `LedgerUnavailableError` (or `LedgerRejectedError` for a request DynamoDB refused as invalid).
 */
export function createReconcilerStateStore<Run>(client: DynamoDBClient, tableName: string, endpointId: string): ReconcilerStateStore<Run> {
  const key = marshall({ [ledgerTable.partitionKey]: reconcilerStateKey(endpointId) });
  const update = (expression: string, values: Record<string, unknown>, condition?: string) =>
    client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: expression,
        ...(condition === undefined ? {} : { ConditionExpression: condition }),
        ExpressionAttributeValues: marshall(values),
      }),
    );
  const writeFailure = (error: unknown) => ledgerFailure("reconciler state write", "UpdateItem", error);

  return {
    async read() {
      const result = await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true })).catch((error: unknown) => {
        throw ledgerFailure("reconciler state read", "GetItem", error);
      });
      if (!result.Item) return undefined;
      const { watermark, lastRunAt, lastRun } = unmarshall(result.Item);
      return {
        ...(typeof watermark === "number" ? { watermark } : {}),
        ...(typeof lastRunAt === "string" ? { lastRunAt } : {}),
        // Written by `write` alone, from a `Run`.
        ...(typeof lastRun === "string" ? { lastRun: JSON.parse(lastRun) as Run } : {}),
      };
    },
    async write({ at, lastRun, watermark, advance }) {
      const run = { ":at": at, ":run": JSON.stringify(lastRun) };
      const recordRun = async () => {
        try {
          await update("SET lastRunAt = :at, lastRun = :run", run);
        } catch (error) {
          throw writeFailure(error);
        }
      };
      if (!advance || watermark === undefined) {
        await recordRun();
        return;
      }
      try {
        await update("SET lastRunAt = :at, lastRun = :run, watermark = :watermark", { ...run, ":watermark": watermark }, "attribute_not_exists(watermark) OR watermark <= :watermark");
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw writeFailure(error);
        // Another run advanced it further meanwhile: keep theirs, record this run.
        await recordRun();
      }
    },
  };
}
