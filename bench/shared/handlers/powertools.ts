import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import Stripe from "stripe";
import { benchLinks } from "./links.ts";
import { constructEvent, reply } from "./put-once.ts";

/*
 * Baseline "powertools": the naive handler made idempotent the documented way. The verified
 * event goes through a function wrapped with makeIdempotent, keyed on the event id (the
 * delivery itself differs on every retry: new signature, new request id), persisted in
 * DynamoDB by the Powertools persistence layer (its default table shape: partition key `id`).
 * Logger writes one line for the work and one summary per request, as ours does.
 */

const stripe = new Stripe(process.env.STRIPE_API_KEY ?? "");
const logger = new Logger({ serviceName: "stripe-webhooks-powertools" });
const links = benchLinks();
const persistenceStore = new DynamoDBPersistenceLayer({ tableName: links.tableName ?? "" });
const config = new IdempotencyConfig({ eventKeyJmesPath: "id" });

const processEvent = makeIdempotent(
  async (event: Stripe.Event) => {
    logger.info("Processing the event", { eventId: event.id, eventType: event.type });
    return { processed: event.id };
  },
  { persistenceStore, config },
);

export async function handler(event: LambdaFunctionURLEvent, context?: Context): Promise<LambdaFunctionURLResult> {
  // Lets the idempotency record's in-progress expiry follow the invocation's remaining time.
  if (context) config.registerLambdaContext(context);
  const stripeEvent = constructEvent(stripe, event, links.webhookSecret ?? "");
  if (stripeEvent === undefined) {
    logger.warn("Stripe webhook refused", { outcome: "invalid_signature" });
    return reply(400, "invalid_signature");
  }
  // A concurrent delivery of the same event throws IdempotencyAlreadyInProgressError: the
  // invocation fails (502 from the function URL) and Stripe retries later, as documented.
  await processEvent(stripeEvent);
  logger.info("Stripe webhook handled", { eventId: stripeEvent.id, eventType: stripeEvent.type, outcome: "ok" });
  return reply(200, "processed");
}
