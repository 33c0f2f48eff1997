import { createHmac, timingSafeEqual } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import { benchLinks } from "./links.ts";
import { putOnce, reply } from "./put-once.ts";

/*
 * Baseline "floor": the least a correct receiver can do. Stripe's signature scheme by hand
 * (HMAC-SHA256 over `timestamp.body`, constant-time compare, age check), JSON.parse, and one
 * conditional PutItem so a redelivery is recognised. No logger, no ledger states, no handler.
 * "Raw" DynamoDB here means the bare SDK client with only the command it sends: SigV4, retries
 * and credentials are table stakes on Lambda, so the SDK's cost belongs to the floor too.
 */

const dynamo = new DynamoDBClient({});
const links = benchLinks();
const toleranceSeconds = 300;

// Accepts when any `v1` signature in the header matches and the timestamp is recent enough.
function verify(body: Buffer, header: string, secret: string, nowSeconds: number): boolean {
  let timestamp = Number.NaN;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const [key, value = ""] = part.split("=", 2);
    if (key === "t") timestamp = Number(value);
    else if (key === "v1") signatures.push(Buffer.from(value, "hex"));
  }
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
  return signatures.some((signature) => signature.length === expected.length && timingSafeEqual(signature, expected));
}

export async function handler(event: LambdaFunctionURLEvent): Promise<LambdaFunctionURLResult> {
  const body = Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8");
  const header = event.headers["stripe-signature"];
  if (!header || !verify(body, header, links.webhookSecret ?? "", Math.floor(Date.now() / 1000))) {
    return reply(400, "invalid_signature");
  }
  const stripeEvent = JSON.parse(body.toString("utf8")) as { id: string };
  const result = await putOnce(dynamo, links.tableName ?? "", stripeEvent.id);
  return reply(200, result);
}
