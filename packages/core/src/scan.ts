import { paginateScan, type AttributeValue, type DynamoDBClient, type ScanCommandInput } from "@aws-sdk/client-dynamodb";

/**
 * Every item a Scan finds, following its pages to the end with the SDK's own paginator. For the
 * tools' listings over the ledger table (the ledger's entries, the entitlements), never a request
 * path: it reads the whole table. The SDK's errors pass through for the caller to translate.
 */
export async function scanAll(
  client: DynamoDBClient,
  input: Omit<ScanCommandInput, "ExclusiveStartKey">,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  for await (const page of paginateScan({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}
