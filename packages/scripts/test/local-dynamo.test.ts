import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DescribeTableCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { dynamoClient, ensureLedgerTable, isLoopbackEndpoint, startDynalite } from "../src/local-dynamo.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(path?: string) {
  const dynamo = await startDynalite(path);
  const client = dynamoClient(dynamo.endpoint, "us-east-1");
  return { dynamo, client };
}

describe("embedded DynamoDB", () => {
  it("creates the ledger table with infra's key schema once, then finds it", async () => {
    const { dynamo, client } = await started();
    cleanups.push(() => dynamo.close(), () => client.destroy());

    expect(dynamo.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await ensureLedgerTable(client, "ledger")).toBe(true);
    expect(await ensureLedgerTable(client, "ledger")).toBe(false);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: "ledger" }));
    expect(Table?.TableStatus).toBe("ACTIVE");
    expect(Table?.KeySchema).toEqual([{ AttributeName: "pk", KeyType: "HASH" }]);
  });

  it("refuses an existing table keyed differently", async () => {
    const { dynamo, client } = await started();
    cleanups.push(() => dynamo.close(), () => client.destroy());
    await client.send(
      new CreateTableCommand({
        TableName: "other",
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    await expect(ensureLedgerTable(client, "other")).rejects.toThrow(/not keyed like the ledger/);
  });

  it("keeps items on disk across a close and a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dynalite-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    const first = await started(dir);
    await ensureLedgerTable(first.client, "ledger");
    await first.client.send(new PutItemCommand({ TableName: "ledger", Item: { pk: { S: "evt_kept" } } }));
    first.client.destroy();
    await first.dynamo.close();

    const second = await started(dir);
    cleanups.push(() => second.dynamo.close(), () => second.client.destroy());
    expect(await ensureLedgerTable(second.client, "ledger")).toBe(false);
    const { Item } = await second.client.send(new GetItemCommand({ TableName: "ledger", Key: { pk: { S: "evt_kept" } } }));
    expect(Item?.pk?.S).toBe("evt_kept");
  });

  it("tells loopback endpoints from remote ones", () => {
    expect(isLoopbackEndpoint("http://127.0.0.1:8000")).toBe(true);
    expect(isLoopbackEndpoint("http://localhost:8000")).toBe(true);
    expect(isLoopbackEndpoint("http://[::1]:8000")).toBe(true);
    expect(isLoopbackEndpoint("https://dynamodb.eu-west-1.amazonaws.com")).toBe(false);
  });
});
