import { settings } from "./preflight";
import { queueSend } from "./queue";
import { stripeApiKey, stripeEndpoint } from "./stripe";
import { ledger } from "./table";

/**
 * Processes every catalog event Stripe has that the ledger has not settled (README, "Never lose
 * an event"). Linked to the same least-privilege ledger as the webhook (it reads entries, claims
 * and completes events, commits handlers' effects, and keeps its watermark in an item of its
 * own), to the API key, and to the stage's endpoint ids. In a queued stage it sends what it
 * recovers to the queue, as the webhook does, so the handlers run at one controlled pace.
 */
export const reconciler = new sst.aws.Cron("Reconciler", {
  schedule: settings.reconciler.schedule,
  function: {
    handler: "packages/functions/src/reconcile.handler",
    runtime: "nodejs24.x",
    architecture: "arm64",
    memory: "512 MB",
    // A run stops starting work well before this (core's maxDurationMs), so a run that is cut
    // off leaves at most its last event's lease to expire.
    timeout: "2 minutes",
    link: [ledger, stripeApiKey, stripeEndpoint, ...(queueSend ? [queueSend] : [])],
    environment: { STRIPE_MODE: settings.mode, PROCESSING_MODE: settings.processing },
    logging: { retention: settings.logRetention, format: "json" },
  },
});
