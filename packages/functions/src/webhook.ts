import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { exampleHandlers } from "@stripe-webhooks/core/handlers";
import { createLedger, type Ledger } from "@stripe-webhooks/core/ledger";
import { createWebhookLogger } from "@stripe-webhooks/core/log";
import { handleWebhook, loadWebhookConfig, type WebhookConfig } from "@stripe-webhooks/core/pipeline";
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import { Resource } from "sst/resource";

// Created once per container so warm invocations reuse its connections. Otherwise default config
// on purpose: the standard AWS_ENDPOINT_URL_DYNAMODB variable points it at a local engine.
// cacheMiddleware: the SDK otherwise rebuilds its middleware stack on every send (~60 µs each,
// measured by the bench), and this client's middleware never changes after start.
const dynamo = new DynamoDBClient({ cacheMiddleware: true });
const logger = createWebhookLogger();

let resolved: { config: WebhookConfig; ledger: Ledger } | undefined;

// Read on the first request, inside the pipeline's error handling: an unlinked resource or a bad
// variable answers 500 with a log line instead of failing at import. Kept once it succeeds: the
// linked values cannot change within a container (a new secret comes with a new deploy).
function settings() {
  resolved ??= {
    config: loadWebhookConfig({
      secret: Resource.StripeWebhookSecret.value,
      mode: process.env.STRIPE_MODE,
      toleranceSeconds: process.env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    }),
    ledger: createLedger(dynamo, Resource.Ledger.name),
  };
  return resolved;
}

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
      settings,
      registry: exampleHandlers,
      logger,
    },
  );
}
