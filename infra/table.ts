import { ledgerHandlerActions, ledgerTable } from "@stripe-webhooks/core/ledger-table";
import { settings } from "./preflight";

/** The exactly-once ledger: one item per Stripe event id, expired by DynamoDB's TTL. */
export const table = new sst.aws.Dynamo("LedgerTable", {
  fields: { [ledgerTable.partitionKey]: "string" },
  primaryIndex: { hashKey: ledgerTable.partitionKey },
  ttl: ledgerTable.ttlAttribute,
  transform: {
    table: (args) => {
      // sst.aws.Dynamo is on-demand already; stated here because the ledger relies on it:
      // Stripe bursts (a backlog after an outage) must not be throttled by provisioned capacity.
      args.billingMode = "PAY_PER_REQUEST";
      args.pointInTimeRecovery = { enabled: settings.pointInTimeRecovery };
    },
  },
});

/**
 * What the handler links instead of the table itself: the same `Resource.Ledger.name`, but
 * with least privilege. Linking `table` directly would grant `dynamodb:*` on it and its indexes.
 */
export const ledger = new sst.Linkable("Ledger", {
  properties: { name: table.name },
  include: [sst.aws.permission({ actions: [...ledgerHandlerActions], resources: [table.arn] })],
});
