import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import { Resource } from "sst/resource";
import Stripe from "stripe";

/*
 * Baseline "naive": what most tutorials deploy. The full `stripe` client for constructEvent, a
 * conditional PutItem on the event id, a console line. No ledger states: an event whose work
 * fails after the put is never retried, which is the bug a ledger exists to avoid.
 */

const stripe = new Stripe(process.env.STRIPE_API_KEY ?? "");
const dynamo = new DynamoDBClient({});

function reply(statusCode: number, result: string): LambdaFunctionURLResult {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify({ result }) };
}

export async function handler(event: LambdaFunctionURLEvent): Promise<LambdaFunctionURLResult> {
  const body = Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8");
  let stripeEvent: Stripe.Event;
  try {
    stripeEvent = stripe.webhooks.constructEvent(
      body,
      event.headers["stripe-signature"] ?? "",
      Resource.StripeWebhookSecret.value,
    );
  } catch {
    return reply(400, "invalid_signature");
  }
  try {
    await dynamo.send(
      new PutItemCommand({
        TableName: Resource.Ledger.name,
        Item: { pk: { S: stripeEvent.id } },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return reply(200, "duplicate");
    throw error;
  }
  console.log(`Processed ${stripeEvent.type} ${stripeEvent.id}`);
  return reply(200, "processed");
}
