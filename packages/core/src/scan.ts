import { ScanCommand, type AttributeValue, type DynamoDBClient, type ScanCommandInput } from "@aws-sdk/client-dynamodb";

/**
 * Every item a Scan finds, following its pages (`LastEvaluatedKey`) to the end. For the tools'
 * listings over the ledger table (the ledger's entries, the entitlements), never a request path:
 * it reads the whole table. The SDK's errors pass through for the caller to translate.
 */
export async function scanAll(
  client: DynamoDBClient,
  input: Omit<ScanCommandInput, "ExclusiveStartKey">,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
