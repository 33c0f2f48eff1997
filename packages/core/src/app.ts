import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type Stripe from "stripe";
import type { HandlerRegistry } from "./dispatch.ts";
import { enqueueEvent, type QueueSender } from "./enqueue.ts";
import { asStripeEvent } from "./envelope.ts";
import { ConfigurationError, type StripeMode } from "./errors.ts";
import type { HttpResponse } from "./http.ts";
import { createLedger, type Ledger, type LedgerOptions } from "./ledger.ts";
import type { WebhookLogger } from "./logger.ts";
import type { OutcomeObserver } from "./outcomes.ts";
import {
  processEvent,
  type EventResult,
  type EventSource,
  type EventTrace,
  type ProcessOptions,
  type ProcessOutcome,
} from "./process-event.ts";
import type { WebhookRequest } from "./request.ts";
import { createReconcilerStateStore, type ReconcilerStateStore } from "./reconcile-state.ts";
import { runObserved } from "./run.ts";
import { createStripeClient } from "./stripe-api.ts";
import {
  loadProcessingMode,
  loadRequestsPerSecond,
  loadStripeMode,
  loadWebhookConfig,
  resolveSettings,
  type ProcessingMode,
  type WebhookConfig,
} from "./settings.ts";
import { handleWebhook } from "./webhook.ts";

/*
 * The composition root: the one place that turns a stage's raw settings and a DynamoDB client
 * into the pipeline's dependencies. The Lambda entries, the local receiver, the tests and the
 * bench all call it with their own dependencies instead of imitating SST's environment.
 */

/** A stage's settings as its environment holds them: strings, possibly missing. */
export interface AppSettings {
  /** One `whsec_...` secret, or several separated by commas. Only the webhook path needs it. */
  webhookSecret?: string | undefined;
  /** `test` or `live`; `test` when unset. */
  mode: string | undefined;
  /** Whole seconds; stripe's 300 when unset. */
  toleranceSeconds?: string | undefined;
  /** The ledger table's name. */
  tableName: string | undefined;
  /** The key handlers' Stripe client uses (`sst.Secret("StripeApiKey")`); only read if a handler calls Stripe. */
  stripeApiKey?: string | undefined;
  /** `STRIPE_API_BASE`: stripe-mock or a double instead of api.stripe.com. */
  stripeApiBase?: string | undefined;
  /** `queued` (the deliveries go through the stage's queue) or `inline`; `inline` when unset. */
  processing?: string | undefined;
  /**
   * `STRIPE_REQUESTS_PER_SECOND`: this container's share of the stage's Stripe rate limit, reads
   * and writes each (the queue consumer's; infra divides the stage's budget by the consumers'
   * maximum concurrency). Unset, the handlers' requests are not paced.
   */
  stripeRequestsPerSecond?: string | undefined;
}


/** What the app is built from. */
export interface AppDependencies {
  dynamo: DynamoDBClient;
  /**
   * Reads the stage's settings. Called on first use, inside the request's error handling (a
   * missing link then answers 500 with a log line instead of failing at import), and kept once
   * it succeeds: linked values cannot change within a container.
   */
  settings: () => AppSettings;
  registry: HandlerRegistry;
  logger: WebhookLogger;
  /** Told every run's outcome, of deliveries and other sources alike (metrics). */
  observe?: OutcomeObserver;
  /** The current time in epoch milliseconds. */
  now?: () => number;
  /** Ledger tuning (lease, retention); the product's defaults otherwise. */
  ledger?: Omit<LedgerOptions, "now">;
  maxBodyBytes?: number;
  /** The stage's queue; a stage whose `processing` is `queued` needs it. */
  queue?: QueueSender;
}

/** The pipeline's two verbs, wired to one stage. */
export interface WebhookApp {
  /** Answers one webhook delivery (see `handleWebhook`). */
  handleWebhook(request: WebhookRequest): Promise<HttpResponse>;
  /**
   * Processes an authentic event obtained another way (fetched from Stripe's API, replayed, taken
   * from the queue) through the same path as a delivery, and logs the same summary line with its
   * source.
   */
  processEvent(event: Stripe.Event, source: Exclude<EventSource, "webhook">, options?: ProcessOptions): Promise<EventResult>;
  /**
   * Hands an authentic event to the stage's processing: sent to the queue in a queued stage
   * (`enqueueEvent`), processed at once in an inline one. The reconciler's path.
   */
  acceptEvent(event: Stripe.Event, source: Exclude<EventSource, "webhook" | "queue">): Promise<EventResult>;
  /** Fetches an event from Stripe's Events API by id (on the connected account when given). */
  retrieveEvent(id: string, account?: string): Promise<Stripe.Event>;
  /**
   * The stage's ledger, mode and processing, resolved from the settings, and the store of the
   * reconciler's state for an endpoint (kept in the ledger table, over the app's client).
   */
  stage(): {
    mode: StripeMode;
    ledger: Ledger;
    tableName: string;
    processing: ProcessingMode;
    reconcilerState<Run>(endpointId: string): ReconcilerStateStore<Run>;
  };
}

/** A stage's settings once read and checked, kept for the container's life. */
interface ResolvedStage {
  mode: StripeMode;
  ledger: Ledger;
  tableName: string;
  processing: ProcessingMode;
  /** Whether handlers have a Stripe API key: decided once, here. */
  stripeConfigured: boolean;
  raw: AppSettings;
}

/**
 * Builds the app for one stage from its dependencies: settings are read lazily and kept once
 * valid, the ledger is created over `dynamo`, and both verbs share the registry and logger, so
 * a delivery and a reconciled event of the same id contend for one ledger item.
 */
export function createWebhookApp(deps: AppDependencies): WebhookApp {
  const now = deps.now ?? Date.now;
  let stage: ResolvedStage | undefined;
  let webhook: WebhookConfig | undefined;

  function resolveStage() {
    stage ??= resolveSettings(() => {
      const raw = deps.settings();
      const tableName = raw.tableName;
      if (!tableName) throw new ConfigurationError("No ledger table is configured: link the Ledger to this function.");
      const ledger = createLedger(deps.dynamo, tableName, { ...deps.ledger, now });
      const processing = loadProcessingMode(raw.processing);
      if (processing === "queued" && !deps.queue) {
        throw new ConfigurationError("The stage processes events queued but has no queue: link the WebhookQueue to this function.");
      }
      // Decided here once: the handlers' context, the webhook and the client all read this.
      const stripeConfigured = Boolean(raw.stripeApiKey);
      return { mode: loadStripeMode(raw.mode), ledger, tableName, processing, stripeConfigured, raw };
    });
    return stage;
  }

  function processDependencies(resolved: ResolvedStage) {
    const { mode, ledger, tableName, stripeConfigured } = resolved;
    return { mode, ledger, tableName, registry: deps.registry, logger: deps.logger, stripe, stripeConfigured };
  }

  function queueOf(resolved: { processing: ProcessingMode }): QueueSender | undefined {
    return resolved.processing === "queued" ? deps.queue : undefined;
  }

  function resolveWebhook() {
    const resolved = resolveStage();
    webhook ??= loadWebhookConfig({
      secret: resolved.raw.webhookSecret,
      mode: resolved.raw.mode,
      toleranceSeconds: resolved.raw.toleranceSeconds,
    });
    const queue = queueOf(resolved);
    return {
      config: webhook,
      ledger: resolved.ledger,
      tableName: resolved.tableName,
      stripeConfigured: resolved.stripeConfigured,
      ...(queue ? { queue } : {}),
    };
  }

  // Created on a handler's first use: events whose handlers never call Stripe load no key.
  let client: Stripe | undefined;
  function stripe(): Stripe {
    if (client) return client;
    const { raw, mode } = resolveStage();
    if (!raw.stripeApiKey) {
      throw new ConfigurationError("Handlers have no Stripe API key: set the StripeApiKey secret for this stage.");
    }
    const pace = loadRequestsPerSecond(raw.stripeRequestsPerSecond);
    client = createStripeClient({
      apiKey: raw.stripeApiKey,
      expectedMode: mode,
      ...(raw.stripeApiBase ? { apiBase: raw.stripeApiBase } : {}),
      ...(pace === undefined ? {} : { requestsPerSecond: pace }),
    });
    return client;
  }

  return {
    handleWebhook(request) {
      return handleWebhook(request, {
        settings: resolveWebhook,
        registry: deps.registry,
        logger: deps.logger,
        now,
        stripe,
        ...(deps.observe ? { observe: deps.observe } : {}),
        ...(deps.maxBodyBytes === undefined ? {} : { maxBodyBytes: deps.maxBodyBytes }),
      });
    },
    processEvent(event, source, options) {
      return run(event, source, options?.force ? { forced: true } : {}, (checked, trace) =>
        processEvent(checked, source, processDependencies(resolveStage()), trace, options),
      );
    },
    acceptEvent(event, source) {
      return run(event, source, {}, (checked, trace) => {
        const resolved = resolveStage();
        const queue = queueOf(resolved);
        if (!queue) return processEvent(checked, source, processDependencies(resolved), trace);
        return enqueueEvent(checked, { mode: resolved.mode, ledger: resolved.ledger, queue }, trace);
      });
    },
    retrieveEvent(id, account) {
      return stripe().events.retrieve(id, {}, account ? { stripeAccount: account } : undefined);
    },
    stage() {
      const { mode, ledger, tableName, processing } = resolveStage();
      return {
        mode,
        ledger,
        tableName,
        processing,
        reconcilerState: (endpointId) => createReconcilerStateStore(deps.dynamo, tableName, endpointId),
      };
    },
  };

  /**
   * Runs one event from a source other than a delivery in the shared wrapper (run.ts). The
   * envelope is checked before the settings, so even a misconfiguration's line names the event,
   * and never an id or type the envelope check would refuse.
   */
  async function run(
    event: Stripe.Event,
    source: Exclude<EventSource, "webhook">,
    attributes: Record<string, unknown>,
    work: (checked: Stripe.Event, trace: EventTrace) => Promise<ProcessOutcome>,
  ): Promise<EventResult> {
    const observers = { logger: deps.logger, now, ...(deps.observe ? { observe: deps.observe } : {}) };
    const { result } = await runObserved(observers, source, attributes, (trace) => {
      const checked = asStripeEvent(event);
      trace.eventId = checked.id;
      trace.eventType = checked.type;
      return work(checked, trace);
    });
    return result;
  }
}
