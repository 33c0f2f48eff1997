import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { exampleHandlers } from "@stripe-webhooks/core/handlers";
import { createLedger } from "@stripe-webhooks/core/ledger";
import { createWebhookLogger } from "@stripe-webhooks/core/log";
import { handleWebhook, loadWebhookConfig } from "@stripe-webhooks/core/pipeline";
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import { Resource } from "sst/resource";

// Created once per container so warm invocations reuse its connections. Otherwise default config
// on purpose: the standard AWS_ENDPOINT_URL_DYNAMODB variable points it at a local engine.
// cacheMiddleware: the SDK otherwise rebuilds its middleware stack on every send (~60 µs each,
// measured by the bench), and this client's middleware never changes after start.
const dynamo = new DynamoDBClient({ cacheMiddleware: true });
const logger = createWebhookLogger();

/**
 * The Stripe webhook endpoint behind a Lambda function URL (payload format 2.0): hands the raw
 * request to core's pipeline and returns its answer.
 */
export async function handler(event: LambdaFunctionURLEvent): Promise<LambdaFunctionURLResult> {
  return handleWebhook(
    {
      method: event.requestContext.http.method,
      headers: event.headers,
      body: event.body,
      isBase64Encoded: event.isBase64Encoded,
      requestId: event.requestContext.requestId,
    },
    {
      // Read per request, inside the pipeline's error handling: an unlinked resource or a bad
      // variable answers 500 with a log line instead of failing every cold start.
      settings: () => ({
        config: loadWebhookConfig({
          secret: Resource.StripeWebhookSecret.value,
          mode: process.env.STRIPE_MODE,
          toleranceSeconds: process.env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        }),
        ledger: createLedger(dynamo, Resource.Ledger.name),
      }),
      registry: exampleHandlers,
      logger,
    },
  );
}
