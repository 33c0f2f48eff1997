import { ConfigurationError, type StripeMode } from "./errors.ts";
import { defaultToleranceSeconds, futureSkewSeconds } from "./limits.ts";
import { parseSecrets } from "./verify.ts";

/*
 * A stage's settings as its environment and links hold them (strings, possibly missing), read
 * and checked: each loader throws a ConfigurationError naming the setting to fix, never quoting
 * a value that could be a secret. The app (app.ts) reads them once per container.
 */

/** How a stage processes what its webhook receives (README, "Processing: queued or inline"). */
export type ProcessingMode = "queued" | "inline";

/** A stage's webhook settings, validated. */
export interface WebhookConfig {
  secrets: readonly string[];
  mode: StripeMode;
  toleranceSeconds: number;
  futureSkewSeconds: number;
}

/** The settings as the environment holds them: strings, possibly missing. */
export interface RawWebhookConfig {
  /** One `whsec_...` secret, or several separated by commas during a rotation. */
  secret: string | undefined;
  /** `test` or `live`; `test` when unset. */
  mode: string | undefined;
  /** Whole seconds; stripe's 300 when unset. */
  toleranceSeconds: string | undefined;
}

/**
 * Validates the stage's Stripe mode as the environment holds it (`STRIPE_MODE`): `test` or
 * `live`, `test` when unset. Throws {@link ConfigurationError} naming the variable.
 */
export function loadStripeMode(raw: string | undefined): StripeMode {
  const mode = raw === undefined || raw === "" ? "test" : raw;
  if (mode !== "test" && mode !== "live") {
    throw new ConfigurationError(`STRIPE_MODE must be "test" or "live", not "${mode}".`);
  }
  return mode;
}

/**
 * Validates the stage's raw settings: at least one `whsec_` secret, a mode of `test` or `live`
 * (default `test`), a positive whole tolerance in seconds (default 300). Throws
 * {@link ConfigurationError} with a message naming the setting to fix.
 */
export function loadWebhookConfig(raw: RawWebhookConfig): WebhookConfig {
  const secrets = parseSecrets(raw.secret ?? "");
  if (secrets.length === 0) {
    throw new ConfigurationError("No Stripe webhook signing secret is configured: set StripeWebhookSecret.");
  }
  if (!secrets.every((secret) => secret.startsWith("whsec_"))) {
    // The message must not echo the value: it may be an API key pasted into the wrong place.
    throw new ConfigurationError("StripeWebhookSecret must hold whsec_ signing secrets, separated by commas.");
  }
  const mode = loadStripeMode(raw.mode);
  const toleranceText = raw.toleranceSeconds ?? "";
  const toleranceSeconds = toleranceText === "" ? defaultToleranceSeconds : Number(toleranceText);
  // stripe treats 0 as "no age check", which would make every signature replayable forever.
  if (!Number.isInteger(toleranceSeconds) || toleranceSeconds <= 0) {
    throw new ConfigurationError(
      `STRIPE_WEBHOOK_TOLERANCE_SECONDS must be a positive whole number, not "${raw.toleranceSeconds}".`,
    );
  }
  return { secrets, mode, toleranceSeconds, futureSkewSeconds };
}

/**
 * Validates the stage's processing mode as the environment holds it (`PROCESSING_MODE`):
 * `queued` or `inline`, `inline` when unset. Throws {@link ConfigurationError} naming the variable.
 */
export function loadProcessingMode(raw: string | undefined): ProcessingMode {
  if (raw === undefined || raw === "" || raw === "inline") return "inline";
  if (raw === "queued") return "queued";
  throw new ConfigurationError(`PROCESSING_MODE must be "queued" or "inline", not "${raw.slice(0, 20)}".`);
}

/** Reads `STRIPE_REQUESTS_PER_SECOND`: unset or empty for no pacing, else a positive number. */
export function loadRequestsPerSecond(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (Number.isFinite(value) && value > 0) return value;
  throw new ConfigurationError(`STRIPE_REQUESTS_PER_SECOND must be a positive number, not "${raw.slice(0, 20)}".`);
}

/**
 * Calls a settings resolver, turning whatever it throws into a {@link ConfigurationError} that
 * says what to check (a missing SST link throws a plain error from `Resource`).
 */
export function resolveSettings<T>(settings: () => T): T {
  try {
    return settings();
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError("The stage's settings could not be read: is the function linked to its resources?", {
      cause: error,
    });
  }
}
