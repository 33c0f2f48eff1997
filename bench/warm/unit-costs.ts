import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient, UpdateItemCommand, type UpdateItemCommandOutput } from "@aws-sdk/client-dynamodb";
import Stripe from "stripe";
import { reportAndExit } from "../shared/child.ts";
import type { UnitCostInput, UnitCosts } from "./protocol.ts";

/*
 * What single operations cost in CPU, to explain the warm-CPU figures rather than only state
 * them: an SDK command up to the point where it would serialize (answered at once by a first
 * middleware, so no I/O), with the default client and with `cacheMiddleware`; one Logger line;
 * stripe's webhook verification against node:crypto doing the same. Run in its own process,
 * bundled like the handlers; reports the median of each over rounds on fd 3.
 */

const [inputFile] = process.argv.slice(2);
if (!inputFile) throw new Error("usage: unit-costs.mjs <input.json>");
const input = JSON.parse(readFileSync(inputFile, "utf8")) as UnitCostInput;

function answeredClient(cacheMiddleware: boolean): DynamoDBClient {
  const client = new DynamoDBClient({ region: "us-east-1", cacheMiddleware });
  client.middlewareStack.add(() => async () => ({ output: { $metadata: {} } as UpdateItemCommandOutput, response: {} }), {
    step: "initialize",
    priority: "high",
  });
  return client;
}

const defaultClient = answeredClient(false);
const cachedClient = answeredClient(true);
const logger = new Logger({ serviceName: "unit-costs" });
const stripe = new Stripe("sk_test_unit_costs_never_used");

function update(id: string): UpdateItemCommand {
  return new UpdateItemCommand({
    TableName: "t",
    Key: { pk: { S: id } },
    UpdateExpression: "SET #s = :s",
    ExpressionAttributeNames: { "#s": "status" },
    ExpressionAttributeValues: { ":s": { S: "processed" } },
  });
}

function verifyByHand(body: string, header: string): unknown {
  const parts = new Map(header.split(",").map((part) => part.split("=") as [string, string]));
  const expected = Buffer.from(createHmac("sha256", input.secret).update(`${parts.get("t")}.${body}`).digest("hex"));
  const given = Buffer.from(parts.get("v1") ?? "");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error("no match");
  return JSON.parse(body);
}

type Operation = () => unknown;

const operations: Record<keyof UnitCosts, Operation> = {
  sdkSendDefault: () => defaultClient.send(update("evt_unit")),
  sdkSendCached: () => cachedClient.send(update("evt_unit")),
  loggerLine: () =>
    logger.info("Stripe webhook handled", { eventId: "evt_unit", eventType: "invoice.paid", outcome: "processed", statusCode: 200 }),
  stripeVerifySmall: () => stripe.webhooks.constructEvent(input.small.body, input.small.header, input.secret),
  handVerifySmall: () => verifyByHand(input.small.body, input.small.header),
  stripeVerifyLarge: () => stripe.webhooks.constructEvent(input.large.body, input.large.header, input.secret),
  handVerifyLarge: () => verifyByHand(input.large.body, input.large.header),
};

async function microsPerOperation(operation: Operation, iterations: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i += 1) await operation();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / iterations;
}

const samples = Object.fromEntries(Object.keys(operations).map((name) => [name, [] as number[]])) as Record<
  keyof UnitCosts,
  number[]
>;
const names = Object.keys(operations) as (keyof UnitCosts)[];
// One unmeasured round warms the JIT; then the operations take turns, round by round.
for (let round = 0; round <= input.rounds; round += 1) {
  for (const name of names) {
    const micros = await microsPerOperation(operations[name], input.iterations);
    if (round > 0) samples[name].push(micros);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const costs: UnitCosts = {
  sdkSendDefault: median(samples.sdkSendDefault),
  sdkSendCached: median(samples.sdkSendCached),
  loggerLine: median(samples.loggerLine),
  stripeVerifySmall: median(samples.stripeVerifySmall),
  handVerifySmall: median(samples.handVerifySmall),
  stripeVerifyLarge: median(samples.stripeVerifyLarge),
  handVerifyLarge: median(samples.handVerifyLarge),
};
reportAndExit(costs);
