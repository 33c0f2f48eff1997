import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createLedger, type Ledger } from "@stripe-webhooks/core/ledger";

/**
 * What a test reads of a ledger table to check what a run left there: one event's entry (`get`)
 * and the entries (`list`), through the ledger itself, so a test reads exactly what the product
 * reads. Only the reads: a test that writes builds its own ledger with the options it means.
 */
export function ledgerReader(client: DynamoDBClient, tableName: string): Pick<Ledger, "get" | "list"> {
  return createLedger(client, tableName);
}
