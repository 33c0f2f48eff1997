import { createWebhookApp, type AppDependencies } from "@stripe-webhooks/core/app";
import type { HttpResponse } from "@stripe-webhooks/core/http";
import type { WebhookRequest } from "@stripe-webhooks/core/request";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { observeInto } from "./metrics.ts";

/*
 * The Lambda adapter, as hono's `handle(app)` is one: a factory over core's app plus a pure
 * converter from the function URL's event. Everything that runs the webhook (the deployed entry,
 * the local receiver, tests, the bench) calls the factory with its own dependencies.
 */

/** A function URL handler (payload format 2.0). */
export type WebhookHandler = (event: LambdaFunctionURLEvent) => Promise<HttpResponse>;

/**
 * The request as core's pipeline takes it: method, headers, and the body exactly as the function
 * URL handed it over (base64 when `isBase64Encoded`), untouched.
 */
export function toWebhookRequest(event: LambdaFunctionURLEvent): WebhookRequest {
  return {
    method: event.requestContext.http.method,
    headers: event.headers,
    body: event.body,
    isBase64Encoded: event.isBase64Encoded,
    requestId: event.requestContext.requestId,
  };
}

/**
 * The Stripe webhook endpoint as a function URL handler, over core's app built from `deps`. With
 * `metrics`, every delivery is counted (see core's metrics.ts) and published as it ends; without,
 * nothing is emitted (the local receiver, most tests).
 */
export function createWebhookHandler(deps: AppDependencies & { metrics?: Metrics }): WebhookHandler {
  const { metrics, ...appDeps } = deps;
  if (!metrics) {
    const app = createWebhookApp(appDeps);
    return (event) => app.handleWebhook(toWebhookRequest(event));
  }
  const app = createWebhookApp({ ...appDeps, observe: observeInto(metrics) });
  return async (event) => {
    try {
      return await app.handleWebhook(toWebhookRequest(event));
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
