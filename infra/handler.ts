import { handlerTimeoutSeconds } from "@stripe-webhooks/core/limits";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { router } from "./router";
import { settings } from "./preflight";
import { queueSend } from "./queue";
import { stripeApiKey, webhookSecret } from "./stripe";
import { ledger } from "./table";

export const handler = new sst.aws.Function("WebhookHandler", {
  handler: "packages/functions/src/webhook.handler",
  runtime: "nodejs24.x",
  architecture: "arm64",
  // CPU scales with memory: 512 MB shortens the cold start (module load and TLS to
  // DynamoDB are CPU-bound) at a negligible cost for a function that runs tens of ms.
  memory: "512 MB",
  // Stripe stops waiting after a few seconds and retries anyway; a longer timeout would only
  // hold the event's lease longer. Core derives the ledger's lease from the same constant.
  timeout: `${handlerTimeoutSeconds} seconds`,
  url: {
    router: { instance: router, path: webhookPath },
    // Stated, not left to SST's default, and always matching the router's protection: behind
    // OAC only the router (CloudFront, signing with IAM) may call the URL; without it the URL
    // must be public, since Stripe cannot sign AWS requests.
    authorization: settings.protection === "none" ? "none" : "iam",
    cors: false,
  },
  // The API key is for handlers that call Stripe (inline); the client is created on first use.
  // Queued, the webhook may send to the queue and do nothing else with it.
  link: [webhookSecret, ledger, stripeApiKey, ...(queueSend ? [queueSend] : [])],
  environment: { STRIPE_MODE: settings.mode, PROCESSING_MODE: settings.processing },
  logging: { retention: settings.logRetention, format: "json" },
  ...(settings.reservedConcurrency === undefined
    ? {}
    : { concurrency: { reserved: settings.reservedConcurrency } }),
});
