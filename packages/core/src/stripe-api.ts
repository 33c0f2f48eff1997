import Stripe from "stripe";
import {
  ConfigurationError,
  StripeMisconfiguredError,
  StripeRequestRefusedError,
  StripeUnavailableError,
  errorSummary,
  redactSecrets,
  type StripeCallError,
  type StripeCallFacts,
  type StripeMode,
} from "./errors.ts";
import { createPacer } from "./pace.ts";
import { stripeApiVersion } from "./stripe-version.ts";

/*
 * The one way this app talks to Stripe's API: a `stripe` client configured once (key, pinned
 * API version, retries, timeout, identification), and the translation of whatever the SDK
 * throws into the few outcomes a caller acts on. The SDK does the retrying and the paginating;
 * this module only decides the settings and what a failure means.
 *
 * The key is passed in (a Lambda entry reads it from `sst.Secret("StripeApiKey")` and hands it
 * over); nothing here reads the environment or `Resource`. It never appears in an error or description this module
 * builds: validation messages describe the key's shape without quoting it, and every text
 * taken from the SDK goes through `redactSecrets`.
 *
 * The permissions a restricted key (`rk_...`) needs are listed in stripe-permissions.ts.
 */

/**
 * How often the SDK retries a request that may succeed on a second try (connection errors,
 * timeouts, 409, 5xx, and 429s Stripe marks retryable with `Stripe-Should-Retry`, such as lock
 * timeouts). More than the SDK's default of one, because a webhook or reconciler run that gives
 * up costs a whole redelivery; few enough that the worst case still fits a Lambda invocation.
 */
export const defaultStripeMaxNetworkRetries = 2;

/**
 * How long one attempt may wait on a silent connection, in milliseconds (the SDK's `timeout` is
 * an idle timeout per attempt). The SDK's default (80 s) outlives the webhook function itself;
 * this bound keeps every attempt plus the SDK's backoff between them inside
 * `handlerTimeoutSeconds`, with time left to record the failure in the ledger and answer.
 */
export const defaultStripeTimeoutMs = 2_000;

/** The name this app gives itself in the SDK's `appInfo`, so Stripe's logs show who called. */
export const stripeAppName = "stripe-webhooks";

/** The settings of a Stripe API client; only `apiKey` is required. */
export interface StripeClientOptions {
  /** A secret (`sk_test_`/`sk_live_`) or restricted (`rk_test_`/`rk_live_`) key. */
  apiKey: string;
  /**
   * Where the API is, when it is not `https://api.stripe.com`: e.g. `http://127.0.0.1:12111`
   * for stripe-mock or the test kit's double. Scheme, host and port only.
   */
  apiBase?: string;
  /** When set, a key of the other mode is refused here rather than by Stripe later. */
  expectedMode?: StripeMode;
  /** Defaults to {@link defaultStripeMaxNetworkRetries}. */
  maxNetworkRetries?: number;
  /** Per attempt, in milliseconds. Defaults to {@link defaultStripeTimeoutMs}. */
  timeoutMs?: number;
  /** Reported in `appInfo` next to {@link stripeAppName}, e.g. the deployed build's version. */
  appVersion?: string;
  /**
   * Paces this client's requests: reads (GET) and writes each at most this many per second, as
   * Stripe counts its limits. Unset, requests go out as they are made.
   */
  requestsPerSecond?: number;
}

const apiKeyPattern = /^(sk|rk)_(test|live)_[0-9A-Za-z]+$/;

/**
 * Why a value is not a usable API key, in words that never quote it: an error message ends up
 * in logs, and a near-miss (a key with a trailing newline) is still a live secret.
 */
function apiKeyProblem(apiKey: string): string | undefined {
  if (apiKeyPattern.test(apiKey)) return undefined;
  if (apiKey.length === 0) return "it is empty";
  if (apiKey.trim() !== apiKey) return "it has leading or trailing whitespace";
  if (apiKey.startsWith("pk_")) return "it is a publishable key (pk_), which cannot read from the API";
  if (apiKey.startsWith("whsec_")) return "it is a webhook signing secret (whsec_), not an API key";
  return "it does not have the shape of one (sk_test_, sk_live_, rk_test_ or rk_live_ followed by letters and digits)";
}

function apiKeyMode(apiKey: string): StripeMode {
  return apiKey.includes("_live_") ? "live" : "test";
}

interface ApiAddress {
  host: string;
  port: number;
  protocol: "http" | "https";
}

/** Turns `apiBase` into the SDK's `host`/`port`/`protocol`, which it takes separately. */
function parseApiBase(apiBase: string): ApiAddress {
  const example = "e.g. http://127.0.0.1:12111";
  let url: URL;
  try {
    url = new URL(apiBase);
  } catch {
    throw new ConfigurationError(`Stripe apiBase "${redactSecrets(apiBase)}" is not a URL (${example}).`);
  }
  // Not quoted: credentials in the URL are the one part of it that must not reach a log.
  if (url.username !== "" || url.password !== "") {
    throw new ConfigurationError("Stripe apiBase must not carry credentials; the API key is passed separately.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigurationError(`Stripe apiBase "${redactSecrets(apiBase)}" must use http or https (${example}).`);
  }
  // The SDK always requests /v1/... from the host's root, so a path would be silently dropped.
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
    throw new ConfigurationError(
      `Stripe apiBase "${redactSecrets(apiBase)}" must be scheme, host and port only, without a path (${example}).`,
    );
  }
  const protocol = url.protocol === "https:" ? "https" : "http";
  const defaultPort = protocol === "https" ? 443 : 80;
  return {
    // Node's http module wants an IPv6 literal without the URL's brackets.
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? defaultPort : Number(url.port),
    protocol,
  };
}

function checkWholeNumber(name: string, value: number, minimum: number): void {
  if (Number.isInteger(value) && value >= minimum) return;
  throw new ConfigurationError(`Stripe client ${name} must be a whole number of at least ${minimum}; got ${value}.`);
}

/**
 * Creates a `stripe` client for this app: the given key, the API version pinned to the one the
 * webhook endpoint uses (so listed and retrieved objects have the shapes deliveries have),
 * bounded retries and timeout, and `appInfo` naming the app. Throws `ConfigurationError`, with
 * the key never quoted, for a value that is not a secret or restricted key, a key of the wrong
 * mode, an `apiBase` that is not a bare http(s) origin, or a negative retry count or timeout.
 */
export function createStripeClient(options: StripeClientOptions): Stripe {
  const problem = apiKeyProblem(options.apiKey);
  if (problem !== undefined) {
    throw new ConfigurationError(`The Stripe API key is not a secret or restricted key: ${problem}.`);
  }
  const mode = apiKeyMode(options.apiKey);
  if (options.expectedMode !== undefined && mode !== options.expectedMode) {
    throw new ConfigurationError(
      `The Stripe API key is a ${mode}-mode key but this stage is ${options.expectedMode}-mode: use a ` +
        `${options.expectedMode === "live" ? "sk_live_/rk_live_" : "sk_test_/rk_test_"} key.`,
    );
  }
  const maxNetworkRetries = options.maxNetworkRetries ?? defaultStripeMaxNetworkRetries;
  const timeout = options.timeoutMs ?? defaultStripeTimeoutMs;
  checkWholeNumber("maxNetworkRetries", maxNetworkRetries, 0);
  checkWholeNumber("timeoutMs", timeout, 1);
  const address = options.apiBase === undefined ? {} : parseApiBase(options.apiBase);
  const pace = options.requestsPerSecond;
  if (pace !== undefined && !(Number.isFinite(pace) && pace > 0)) {
    throw new ConfigurationError(`Stripe client requestsPerSecond must be a positive number; got ${pace}.`);
  }

  return new Stripe(options.apiKey, {
    // stripe-version.ts exports the endpoint's version as a plain string; the SDK's config type
    // only admits its own literal, which that string is by construction.
    apiVersion: stripeApiVersion as typeof Stripe.API_VERSION,
    maxNetworkRetries,
    timeout,
    appInfo: {
      name: stripeAppName,
      ...(options.appVersion === undefined ? {} : { version: options.appVersion }),
    },
    ...address,
    ...(pace === undefined ? {} : { httpClient: pacedHttpClient(pace) }),
  });
}

/**
 * An HTTP client for the `stripe` SDK that passes each request to `inner` (the SDK's own Node
 * client by default) once its kind has a free slot: reads (GET) and writes each at most
 * `perSecond`, evenly spaced, as Stripe counts its limits apart. The wait comes before the
 * attempt, so the SDK's per-attempt timeout does not count it, and each of the SDK's retries
 * waits for its own slot like any request.
 */
export function pacedHttpClient(perSecond: number, inner: Stripe.HttpClient = Stripe.createNodeHttpClient()): Stripe.HttpClient {
  const reads = createPacer(perSecond);
  const writes = createPacer(perSecond);
  return {
    getClientName: () => inner.getClientName(),
    async makeRequest(host, port, path, method, headers, requestData, protocol, timeout) {
      await (method === "GET" ? reads : writes)();
      return inner.makeRequest(host, port, path, method, headers, requestData, protocol, timeout);
    },
  };
}

/**
 * What a caller does about a failed Stripe call: try again later, check the address and the
 * network (`unreachable`: no connection to the API host, also a try-again-later), alert an
 * operator about the key, accept that Stripe refused this request, or treat it as a bug.
 */
export type StripeErrorKind = "retry-later" | "unreachable" | "misconfiguration" | "request-refused" | "unknown";

/** A failure's kind with facts that are safe to log (see {@link StripeCallFacts}). */
export interface StripeErrorClassification {
  kind: StripeErrorKind;
  /** One line: type, code, status, request id and message, secrets masked. */
  description: string;
  statusCode?: number;
  code?: string;
  requestId?: string;
}

const maxDescriptionLength = 500;

function cut(text: string): string {
  return text.length > maxDescriptionLength ? `${text.slice(0, maxDescriptionLength - 1)}…` : text;
}

/** The Node error code (ECONNRESET, ETIMEDOUT, ...) under a connection error, if any. */
function detailCode(error: Stripe.errors.StripeError): string | undefined {
  const detail = error.detail;
  if (!(detail instanceof Error) || !("code" in detail)) return undefined;
  return typeof detail.code === "string" ? detail.code : undefined;
}

function describeStripeError(error: Stripe.errors.StripeError): string {
  const facts = [
    error.statusCode === undefined ? undefined : `status ${error.statusCode}`,
    error.code === undefined ? undefined : `code ${error.code}`,
    error.requestId === undefined ? undefined : `request ${error.requestId}`,
    detailCode(error),
  ].filter((fact): fact is string => fact !== undefined);
  const head = facts.length === 0 ? error.type : `${error.type} (${facts.join(", ")})`;
  return cut(redactSecrets(error.message === "" ? head : `${head}: ${error.message}`));
}

// The connection never opened: the name did not resolve, or nothing accepts connections at the
// address. Unlike a timeout or a reset, no request reached the API, and the cause is usually the
// configured address or the network rather than Stripe.
const unreachableCodes = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"]);

function kindOf(error: Stripe.errors.StripeError): StripeErrorKind {
  const errors = Stripe.errors;
  if (error instanceof errors.StripeConnectionError && unreachableCodes.has(detailCode(error) ?? "")) {
    return "unreachable";
  }
  // 429 covers both real rate limiting (which the SDK deliberately does not retry) and lock
  // timeouts (which it does); either way the request may succeed later.
  if (error instanceof errors.StripeRateLimitError || error instanceof errors.StripeConnectionError) {
    return "retry-later";
  }
  if (error instanceof errors.StripeAuthenticationError || error instanceof errors.StripePermissionError) {
    return "misconfiguration";
  }
  // A reused idempotency key with different parameters fails the same way every time.
  if (
    error instanceof errors.StripeIdempotencyError ||
    error instanceof errors.StripeCardError ||
    error instanceof errors.StripeInvalidRequestError
  ) {
    return "request-refused";
  }
  if (error instanceof errors.StripeAPIError) {
    const status = error.statusCode;
    // No status: the body was not JSON, typically a proxy's error page in front of Stripe.
    // 409: a concurrent request holds the same idempotency key. 424: a dependency outside
    // Stripe failed. 5xx: Stripe's side.
    if (status === undefined || status === 409 || status === 424 || status >= 500) return "retry-later";
  }
  return "unknown";
}

/**
 * Maps anything a Stripe call threw to what the caller should do about it, with a one-line
 * description that is safe to log: the SDK's error type, Stripe's code, the HTTP status, the
 * request id and the message, secrets masked. A host that cannot be reached (DNS failure,
 * connection refused, no route) is `unreachable`; rate limits, lock timeouts, conflicts, 5xx,
 * timeouts and broken connections are `retry-later`; a rejected key (401) or a missing
 * permission (403) is `misconfiguration`; invalid requests, missing objects, card errors and
 * idempotency misuse are `request-refused`; everything else, including non-Stripe errors, is
 * `unknown`.
 */
export function classifyStripeError(error: unknown): StripeErrorClassification {
  if (!(error instanceof Stripe.errors.StripeError)) {
    return { kind: "unknown", description: errorSummary(error, maxDescriptionLength) };
  }
  return {
    kind: kindOf(error),
    description: describeStripeError(error),
    statusCode: error.statusCode,
    code: error.code,
    requestId: error.requestId,
  };
}

function toStripeCallError(operation: string, error: unknown): StripeCallError | undefined {
  const classification = classifyStripeError(error);
  const facts: StripeCallFacts = {
    operation,
    description: classification.description,
    statusCode: classification.statusCode,
    code: classification.code,
    requestId: classification.requestId,
  };
  switch (classification.kind) {
    case "retry-later":
    case "unreachable":
      return new StripeUnavailableError(facts, error);
    case "misconfiguration":
      return new StripeMisconfiguredError(facts, error);
    case "request-refused":
      return new StripeRequestRefusedError(facts, error);
    case "unknown":
      return undefined;
  }
}

/**
 * Runs one Stripe call (a request, or a whole auto-paginated listing) and converts the SDK's
 * errors into `StripeUnavailableError`, `StripeMisconfiguredError` or
 * `StripeRequestRefusedError` (all `StripeCallError`s, keeping the SDK's error as `cause`).
 * `operation` names the call in messages, e.g. `events.list`. Anything else, such as a bug in
 * `call`, is rethrown unchanged.
 */
export async function callStripe<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toStripeCallError(operation, error) ?? error;
  }
}
