/**
 * The ledger table's shape, shared by infra (`sst.aws.Dynamo`), the ledger code, and every
 * test or local run that creates the table itself, so they can never drift apart.
 *
 * The partition key is a generic `pk` rather than `eventId` so the table can later hold other
 * item kinds; for events it holds the Stripe event id as is (`evt_...`), whose prefix already
 * keeps it apart from other Stripe object ids.
 */
export const ledgerTable = {
  partitionKey: "pk",
  /** Epoch seconds; DynamoDB's TTL deletes the item some time after this instant. */
  ttlAttribute: "expiresAt",
} as const;

/**
 * The `CreateTable` input for an engine that is not provisioned by infra (dynalite, DynamoDB
 * Local, the local receiver). Mirrors what `infra/table.ts` declares: one string hash key,
 * on-demand billing. TTL is set separately with `UpdateTimeToLive` ({@link ledgerTimeToLive}).
 */
export function ledgerCreateTableInput(tableName: string) {
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: ledgerTable.partitionKey, AttributeType: "S" as const }],
    KeySchema: [{ AttributeName: ledgerTable.partitionKey, KeyType: "HASH" as const }],
    BillingMode: "PAY_PER_REQUEST" as const,
  };
}

/** The `UpdateTimeToLive` input matching infra's `ttl` setting. */
export function ledgerTimeToLive(tableName: string) {
  return {
    TableName: tableName,
    TimeToLiveSpecification: { AttributeName: ledgerTable.ttlAttribute, Enabled: true },
  };
}

/**
 * The only DynamoDB actions the deployed functions perform on the ledger table: the conditional
 * claim and the result write are UpdateItem, the fallback read of a claimed item is GetItem, and
 * handlers' staged effects commit in a TransactWriteItems, whose actions IAM checks as their
 * underlying Put/Update/Delete/ConditionCheck. Infra grants exactly these on the table (SST's
 * default link grants `dynamodb:*`); a test holds the ledger code to this list.
 */
export const ledgerHandlerActions = [
  "dynamodb:UpdateItem",
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:DeleteItem",
  "dynamodb:ConditionCheckItem",
] as const;
