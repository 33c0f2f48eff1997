import { stripeApiVersion } from "@stripe-webhooks/core/stripe-version";

/**
 * Every per-stage decision in one typed place. `production` is the live stage; `pr-<n>` stages
 * (PR previews) share one test-mode endpoint; every other stage (personal dev stages, staging)
 * is a lean test-mode copy with endpoints of its own.
 *
 * This module has no side effects and reads no globals: `sst.config.ts`'s `app()` imports it for
 * the region, before `$app` exists. `preflight.ts` validates the settings for the stage being
 * deployed, before any resource is created.
 */

/**
 * Where the stage's Stripe webhook endpoint comes from.
 *
 * - `managed`: the stage creates one endpoint per API version listed. Normally one; two while
 *   an API version upgrade drains the old endpoint (README, "Upgrade Stripe's API version").
 *   The list must hold the pinned version (`packages/core/src/stripe-version.ts`).
 * - `shared`: the stage creates no endpoint and uses one that already exists (Stripe allows 16
 *   per account), identified by the endpoint id its secret is bound to: `sst secret set
 *   StripeWebhookSecret we_...:whsec_...` (README, "Preview stages and the endpoint limit").
 */
export type EndpointSettings =
  | { kind: "managed"; apiVersions: readonly string[] }
  | { kind: "shared" };

export interface WafSettings {
  /**
   * Per-IP request limit per 5 minutes. Stripe delivers from a small, fixed set of IPs, so the
   * limit must stay far above a real burst from one of them.
   */
  rateLimitPerIp: number;
  /**
   * Block requests from outside Stripe's published webhook IPs
   * (`infra/stripe-webhook-ips.json`, refreshed with `npm run stripe-ips`). The signature check
   * stays the gate either way; a list that falls behind Stripe's silently refuses real
   * deliveries from the new addresses, so this is an opt-in.
   */
  stripeIpAllowlist: boolean;
}

export interface ReconcilerSettings {
  /**
   * When the reconciler runs (EventBridge syntax). Often enough that a missed event is processed
   * well within Stripe's retry window and its 30-day horizon; each run is bounded in work.
   */
  schedule: `rate(${string})` | `cron(${string})`;
}

export interface AlarmSettings {
  /** Where the stage's alarm topic also sends e-mail (confirm the subscription once); undefined for none. */
  email?: string;
  /** Refused signatures per 5 minutes that count as a spike (a wrong secret, or someone probing the URL). */
  invalidSignaturesPer5Minutes: number;
  /**
   * Queued processing: how old the queue's oldest message may grow, in minutes, before the alarm
   * fires. A burst drains in seconds to minutes at the consumer's concurrency, so a message this
   * old means the consumer is failing, throttled or held back by a stuck message group. Ignored
   * by an inline stage.
   */
  oldestQueuedMessageMinutes: number;
}

/**
 * The queue between the webhook and the handlers (queued processing; README, "Processing
 * modes"). An inline stage creates no queue and ignores these.
 */
export interface QueueSettings {
  /**
   * The consumer function's timeout, in seconds (Lambda allows up to 900). It bounds a whole
   * batch, processed one record at a time, and sets the event's lease and the queue's visibility
   * timeout (`packages/core/src/limits.ts`). Minutes, not the webhook's seconds: a handler that
   * needs longer than Stripe waits for an answer is what the queue is for.
   */
  consumerTimeoutSeconds: number;
  /**
   * How many consumer instances may run at once (the event source mapping's maximum
   * concurrency; Lambda's minimum is 2): how many customers' events are processed side by side.
   * It does not set the pace of Stripe requests (`stripeRequestsPerSecond` does), but it must be
   * large enough to use that pace: an instance processes its batch one record at a time, so it
   * makes at most one request per request latency. At a latency of 200 ms an instance makes at
   * most 5 requests per second, hence 5 instances for 25 per second and 20 for 80.
   */
  maxConcurrency: number;
  /**
   * The Stripe API requests per second all consumer instances may make together, reads and
   * writes each (Stripe counts them apart). Each instance paces its own client at this divided by
   * `maxConcurrency`, so the consumers keep within it whatever a request's latency, and a burst
   * of renewals queues up instead of meeting 429s. Stripe's limit is 25 per second in test mode
   * and 100 in live, shared by everything that uses the account's keys. Live presets take four
   * fifths of it, leaving a fifth to the reconciler, replay and your own servers, which serve
   * customers; test presets take all of it, since a sandbox serves none and every caller here
   * retries a 429 later.
   */
  stripeRequestsPerSecond: number;
  /**
   * How many times the consumer runs an event's handler and sees it fail before moving the
   * event to the dead-letter queue. A Stripe rate limit or connection error does not count: the
   * consumer returns that record to the queue with a growing delay instead.
   */
  maxReceives: number;
}

export interface StageSettings {
  /** Which Stripe mode the stage's handler accepts; events from the other mode are refused. */
  mode: "test" | "live";
  /**
   * `queued`: the webhook verifies and records an event, sends it to an SQS FIFO queue and
   * answers Stripe at once; a consumer runs the handlers at a pace Stripe's API can bear, one
   * customer's events in order. `inline`: the webhook runs the handler inside Stripe's request,
   * within its 10-second timeout, and creates no queue. Queued is the default everywhere because
   * a burst (renewals at the start of a month) otherwise turns into rate-limited handlers and 5xx
   * answers; with a queue, Stripe's Dashboard shows a delivery as succeeded even if its processing
   * fails later, so the ledger and the alarms are where failures show (README, "Processing modes").
   */
  processing: "queued" | "inline";
  queue: QueueSettings;
  /**
   * The AWS region of every resource of the stage, and of SST's state for it. Changing it for a
   * deployed stage creates a second copy of the stage (and a second Stripe endpoint) instead of
   * moving the first.
   */
  region: string;
  /**
   * Custom domain for the router. Needs a Route 53 hosted zone for it in the account. It is in
   * code, not in the deploying environment, because a deploy without it would remove the
   * certificate and the DNS record and move the URL Stripe posts to.
   */
  domain?: string;
  endpoint: EndpointSettings;
  /**
   * How the function URL is protected. `oac-with-edge-signing`: the function URL requires IAM
   * and only the router can call it; a Lambda@Edge function hashes each body (up to 1 MB, the
   * handler's own limit) so CloudFront can sign POSTs. `none`: the function URL is public.
   * Plain `oac` is not offered: it needs an `x-amz-content-sha256` header Stripe never sends.
   */
  protection: "none" | "oac-with-edge-signing";
  /** The router's WAF; undefined for none. */
  waf?: WafSettings;
  /** DynamoDB point-in-time recovery for the ledger. */
  pointInTimeRecovery: boolean;
  /**
   * Reserved concurrency for the handler; undefined shares the account's pool. Reserving takes
   * from the account's concurrency quota, of which Lambda keeps 100 unreserved: check the quota
   * first (README, "Deploy a stage").
   */
  reservedConcurrency?: number;
  /** CloudWatch retention of the handler's logs. */
  logRetention: "1 week" | "1 month" | "3 months" | "1 year";
  reconciler: ReconcilerSettings;
  alarms: AlarmSettings;
  /**
   * Fingerprints (`npm run signing-secrets`; README, "Rotate the signing secret") of signing
   * secrets that must never be trusted again, whichever way they arrive: a secret rolled because
   * it leaked is listed here, so that a later `sst secret remove` cannot fall back to it. A deploy
   * that would leave an endpoint with only revoked secrets stops.
   */
  revokedSecretFingerprints: readonly string[];
}

export const defaultRegion = "us-east-1";

// The API versions of the endpoints each kind of stage keeps. Literals on purpose: if they
// referred to the pin, changing the pin would replace every endpoint in one deploy and drop the
// old one's pending retries. Preflight fails any stage whose list does not hold the pin.
const liveEndpointApiVersions = ["2026-10-28.endive"] as const;
const testEndpointApiVersions = ["2026-10-28.endive"] as const;

/** What the test-mode presets (previews and developers' stages) share; they differ in their endpoint. */
function testStage(): Omit<StageSettings, "endpoint"> {
  return {
    mode: "test",
    processing: "queued",
    // Test mode: Stripe allows 25 requests per second (QueueSettings says how these derive).
    queue: { consumerTimeoutSeconds: 300, maxConcurrency: 5, stripeRequestsPerSecond: 25, maxReceives: 5 },
    region: defaultRegion,
    // Lambda@Edge replicas make every `sst remove` of a stage wait for them; these stages come and go.
    protection: "none",
    pointInTimeRecovery: false,
    logRetention: "1 week",
    reconciler: { schedule: "rate(15 minutes)" },
    alarms: { invalidSignaturesPer5Minutes: 20, oldestQueuedMessageMinutes: 15 },
    revokedSecretFingerprints: [],
  };
}

const presets: Record<"production" | "preview" | "development", StageSettings> = {
  production: {
    mode: "live",
    processing: "queued",
    // Live mode: Stripe allows 100 requests per second (QueueSettings says how these derive).
    queue: { consumerTimeoutSeconds: 300, maxConcurrency: 20, stripeRequestsPerSecond: 80, maxReceives: 5 },
    region: defaultRegion,
    // Set the production domain here (e.g. "webhooks.example.com") once its hosted zone exists.
    domain: undefined,
    endpoint: { kind: "managed", apiVersions: liveEndpointApiVersions },
    protection: "oac-with-edge-signing",
    waf: { rateLimitPerIp: 20_000, stripeIpAllowlist: false },
    pointInTimeRecovery: true,
    reservedConcurrency: undefined,
    logRetention: "3 months",
    reconciler: { schedule: "rate(15 minutes)" },
    // Set an address here to be told by e-mail; the topic exists either way.
    alarms: { email: undefined, invalidSignaturesPer5Minutes: 20, oldestQueuedMessageMinutes: 15 },
    revokedSecretFingerprints: [],
  },
  preview: { ...testStage(), endpoint: { kind: "shared" } },
  development: { ...testStage(), endpoint: { kind: "managed", apiVersions: testEndpointApiVersions } },
};

/** PR preview stages: `pr-<number>`. */
export const previewStagePattern = /^pr-\d+$/;

/** The settings for a stage name (not yet validated: see {@link stageSettingsProblems}). */
export function stageSettings(stage: string): StageSettings {
  if (stage === "production") return presets.production;
  if (previewStagePattern.test(stage)) return presets.preview;
  return presets.development;
}

// The API version of the endpoints deployed under the name "StripeWebhookEndpoint".
const unversionedEndpointApiVersion = "2026-10-28.endive";

/**
 * The Pulumi name of the endpoint for an API version. Each version has its own name, so adding
 * a version adds an endpoint beside the others and never replaces one. The endpoint created
 * before names carried versions keeps its original name, and with it its state.
 */
export function endpointResourceName(apiVersion: string): string {
  if (apiVersion === unversionedEndpointApiVersion) return "StripeWebhookEndpoint";
  return `StripeWebhookEndpoint${apiVersion.replace(/[^A-Za-z0-9]/g, "")}`;
}

const apiVersionFormat = /^\d{4}-\d{2}-\d{2}\.[a-z]+$/;
const regionFormat = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const domainFormat = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const scheduleFormat = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^)]+\))$/;
const fingerprintFormat = /^[0-9a-f]{8}$/;
const emailFormat = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const logRetentions = new Set(["1 week", "1 month", "3 months", "1 year"]);
const processingModes = new Set(["queued", "inline"]);

function isWholeNumber(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Everything wrong with a stage's settings, one sentence each; empty when they can be deployed.
 * Checked at run time, not only by the type: the settings decide what a deploy creates and
 * deletes, and a bad value must stop the deploy before anything is created.
 */
export function stageSettingsProblems(
  stage: string,
  settings: StageSettings,
  pinnedApiVersion: string = stripeApiVersion,
): string[] {
  const problems: string[] = [];
  const { mode, endpoint } = settings;
  if (mode !== "test" && mode !== "live") problems.push(`mode must be "test" or "live", not "${String(mode)}".`);
  if (stage === "production" && mode !== "live") problems.push(`production is the live stage: its mode must be "live".`);
  if (typeof settings.region !== "string" || !regionFormat.test(settings.region)) {
    problems.push(`region must be an AWS region such as "${defaultRegion}", not "${String(settings.region)}".`);
  }
  if (settings.domain !== undefined && (typeof settings.domain !== "string" || !domainFormat.test(settings.domain))) {
    problems.push(`domain must be a lowercase host name such as "webhooks.example.com", not "${String(settings.domain)}".`);
  }

  if (endpoint?.kind === "managed") {
    const versions: readonly unknown[] = Array.isArray(endpoint.apiVersions) ? endpoint.apiVersions : [];
    const malformed = versions.filter((version) => typeof version !== "string" || !apiVersionFormat.test(version));
    if (versions.length === 0) {
      problems.push(`endpoint.apiVersions must list the endpoint's API version ("${pinnedApiVersion}").`);
    } else if (malformed.length > 0) {
      problems.push(`endpoint.apiVersions holds ${malformed.map((v) => `"${String(v)}"`).join(", ")}, not Stripe API versions such as "${pinnedApiVersion}".`);
    } else if (new Set(versions).size !== versions.length) {
      problems.push("endpoint.apiVersions lists a version twice.");
    } else if (!versions.includes(pinnedApiVersion)) {
      problems.push(
        `endpoint.apiVersions is [${versions.join(", ")}], but the handler is built for ${pinnedApiVersion} ` +
          `(packages/core/src/stripe-version.ts). Add "${pinnedApiVersion}" beside the current version, do not ` +
          "replace it: the old endpoint must stay until its retries have drained (README, \"Upgrade Stripe's API version\").",
      );
    } else if (versions.length > 2) {
      problems.push("endpoint.apiVersions lists more than two versions: finish the previous upgrade first (one current, one draining).");
    }
  } else if (endpoint?.kind === "shared") {
    if (mode !== "test") problems.push("a shared endpoint is for test-mode stages: a live stage manages its own endpoint.");
  } else {
    problems.push(`endpoint must be { kind: "managed", apiVersions: [...] } or { kind: "shared" }.`);
  }

  if (settings.protection !== "none" && settings.protection !== "oac-with-edge-signing") {
    problems.push(
      `protection must be "oac-with-edge-signing" or "none", not "${String(settings.protection)}" ` +
        "(plain \"oac\" refuses Stripe's POSTs: they carry no x-amz-content-sha256 header).",
    );
  }
  if (settings.waf !== undefined) {
    // AWS WAF's bounds for a rate-based rule's limit.
    if (!isWholeNumber(settings.waf.rateLimitPerIp, 10, 2_000_000_000)) {
      problems.push(`waf.rateLimitPerIp must be a whole number from 10 to 2,000,000,000, not ${String(settings.waf.rateLimitPerIp)}.`);
    }
    if (typeof settings.waf.stripeIpAllowlist !== "boolean") problems.push("waf.stripeIpAllowlist must be true or false.");
  }
  if (typeof settings.pointInTimeRecovery !== "boolean") problems.push("pointInTimeRecovery must be true or false.");
  if (settings.reservedConcurrency !== undefined && !isWholeNumber(settings.reservedConcurrency, 1)) {
    problems.push(`reservedConcurrency must be a whole number of at least 1, or undefined, not ${String(settings.reservedConcurrency)}.`);
  }
  if (!logRetentions.has(settings.logRetention)) {
    problems.push(`logRetention must be one of ${[...logRetentions].join(", ")}, not "${String(settings.logRetention)}".`);
  }
  if (typeof settings.reconciler?.schedule !== "string" || !scheduleFormat.test(settings.reconciler.schedule)) {
    problems.push(`reconciler.schedule must be an EventBridge schedule such as "rate(15 minutes)", not "${String(settings.reconciler?.schedule)}".`);
  }
  const alarms = settings.alarms;
  if (alarms?.email !== undefined && (typeof alarms.email !== "string" || !emailFormat.test(alarms.email))) {
    problems.push(`alarms.email must be an e-mail address or undefined, not "${String(alarms.email)}".`);
  }
  if (!isWholeNumber(alarms?.invalidSignaturesPer5Minutes, 1)) {
    problems.push(`alarms.invalidSignaturesPer5Minutes must be a whole number of at least 1, not ${String(alarms?.invalidSignaturesPer5Minutes)}.`);
  }
  // Up to SQS's longest retention (14 days): an older message cannot exist.
  if (!isWholeNumber(alarms?.oldestQueuedMessageMinutes, 1, 20_160)) {
    problems.push(`alarms.oldestQueuedMessageMinutes must be a whole number from 1 to 20,160 (14 days), not ${String(alarms?.oldestQueuedMessageMinutes)}.`);
  }
  if (!processingModes.has(settings.processing)) {
    problems.push(`processing must be "queued" or "inline", not "${String(settings.processing)}".`);
  }
  problems.push(...queueProblems(settings.queue));
  const revoked: unknown = settings.revokedSecretFingerprints;
  if (!Array.isArray(revoked) || !revoked.every((fingerprint) => typeof fingerprint === "string" && fingerprintFormat.test(fingerprint))) {
    problems.push("revokedSecretFingerprints must list fingerprints of 8 lowercase hex digits, as npm run signing-secrets prints them.");
  }
  return problems;
}

/** What is wrong with the queue settings: checked for inline stages too, so switching modes is a one-word change. */
function queueProblems(queue: QueueSettings | undefined): string[] {
  if (typeof queue !== "object" || queue === null) {
    return ["queue must be { consumerTimeoutSeconds, maxConcurrency, stripeRequestsPerSecond, maxReceives }."];
  }
  const problems: string[] = [];
  // Lambda's longest timeout is 900 s; below 30 s the consumer would be barely longer than the webhook's own timeout.
  if (!isWholeNumber(queue.consumerTimeoutSeconds, 30, 900)) {
    problems.push(`queue.consumerTimeoutSeconds must be a whole number from 30 to 900, not ${String(queue.consumerTimeoutSeconds)}.`);
  }
  // The event source mapping's bounds for maximum concurrency.
  if (!isWholeNumber(queue.maxConcurrency, 2, 1000)) {
    problems.push(`queue.maxConcurrency must be a whole number from 2 to 1,000 (Lambda's bounds for an SQS event source), not ${String(queue.maxConcurrency)}.`);
  }
  // Stripe raises an account's limits on request; the upper bound only catches a typo (a misplaced zero).
  const pace = queue.stripeRequestsPerSecond;
  if (typeof pace !== "number" || !Number.isFinite(pace) || pace <= 0 || pace > 10_000) {
    problems.push(`queue.stripeRequestsPerSecond must be a number above 0 and at most 10,000, not ${String(pace)}.`);
  }
  // SQS's own receive count is set above this as a backstop, within its limit of 1,000.
  if (!isWholeNumber(queue.maxReceives, 1, 100)) {
    problems.push(`queue.maxReceives must be a whole number from 1 to 100, not ${String(queue.maxReceives)}.`);
  }
  return problems;
}
