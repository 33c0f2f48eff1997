import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import Stripe from "stripe";
import { benchLinks } from "./links.ts";
import { constructEvent, putOnce, reply } from "./put-once.ts";

/*
 * Baseline "naive": what most tutorials deploy. The full `stripe` client for constructEvent, a
 * conditional PutItem on the event id, a console line. No ledger states: an event whose work
 * fails after the put is never retried, which is the bug a ledger exists to avoid.
 */

const stripe = new Stripe(process.env.STRIPE_API_KEY ?? "");
const dynamo = new DynamoDBClient({});
const links = benchLinks();

export async function handler(event: LambdaFunctionURLEvent): Promise<LambdaFunctionURLResult> {
  const stripeEvent = constructEvent(stripe, event, links.webhookSecret ?? "");
  if (stripeEvent === undefined) return reply(400, "invalid_signature");
  const result = await putOnce(dynamo, links.tableName ?? "", stripeEvent.id);
  if (result === "duplicate") return reply(200, result);
  console.log(`Processed ${stripeEvent.type} ${stripeEvent.id}`);
  return reply(200, "processed");
}
