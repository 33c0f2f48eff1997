import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import type { Engine } from "@stripe-webhooks/testing/engines";
import type { Variant } from "./variants.ts";

/**
 * Creates the table a variant writes: ours' ledger definition (the one infra deploys; floor and
 * naive use the same `pk` key), or the Powertools persistence layer's default shape, `id`.
 */
export async function createVariantTable(engine: Engine, variant: Pick<Variant, "keyAttribute">, name: string): Promise<string> {
  if (variant.keyAttribute === "pk") return engine.createLedgerTable(name);
  const client = engine.client();
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  } finally {
    client.destroy();
  }
  return name;
}
