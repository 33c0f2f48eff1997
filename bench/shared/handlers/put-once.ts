import { ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import type Stripe from "stripe";

/*
 * The pieces the baselines have in common, so that what they are compared on is exactly the
 * same code. Each baseline's bundle includes its own copy of what it uses.
 */

/** A small JSON answer, shaped like ours. */
export function reply(statusCode: number, result: string): LambdaFunctionURLResult {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify({ result }) };
}

/**
 * The one conditional PutItem of the floor and naive baselines: the first delivery of an event
 * id is "processed", any later one a "duplicate". No states, so nothing is ever retried.
 */
export async function putOnce(dynamo: DynamoDBClient, tableName: string, eventId: string): Promise<"processed" | "duplicate"> {
  try {
    await dynamo.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: eventId } },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    return "processed";
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return "duplicate";
    throw error;
  }
}

/**
 * The naive and powertools baselines' verification, `stripe.webhooks.constructEvent` on the
 * raw body as Stripe's docs show it: the event, or undefined when the delivery fails it.
 */
export function constructEvent(stripe: Stripe, event: LambdaFunctionURLEvent, secret: string): Stripe.Event | undefined {
  const body = Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8");
  try {
    return stripe.webhooks.constructEvent(body, event.headers["stripe-signature"] ?? "", secret);
  } catch {
    return undefined;
  }
}
