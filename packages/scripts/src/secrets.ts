import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { newWebhookSecret } from "./stripe-events.ts";
import { UsageError } from "./cli.ts";

/*
 * The signing secrets of the local receiver: STRIPE_WEBHOOK_SECRET when given, else one
 * generated on first start and kept in the data directory so that restarts and the trigger
 * tool agree on it.
 */

// Stripe's secrets are `whsec_` plus base64-ish text; `stripe listen` prints 64 hex digits.
const secretFormat = /^whsec_[A-Za-z0-9+/=_-]{8,}$/;

/** Enough of a malformed value to recognise it, never a whole (possibly live) credential. */
function describe(value: string): string {
  if (value === "") return "an empty entry";
  return `"${value.slice(0, 6)}…" (${value.length} characters)`;
}

/**
 * The secrets in a comma-separated list, each checked for Stripe's format. Throws a
 * UsageError naming `source` when one is malformed.
 */
export function parseWebhookSecrets(list: string, source: string): string[] {
  const entries = list.split(",").map((entry) => entry.trim());
  entries.forEach((entry, index) => {
    if (!secretFormat.test(entry)) {
      const which = entries.length > 1 ? `entry ${index + 1} of ${source}` : source;
      throw new UsageError(
        `${which} is not a Stripe webhook signing secret: expected "whsec_" followed by ` +
          `letters and digits, got ${describe(entry)}. Use the whsec_... value that ` +
          "`stripe listen` or the Stripe Dashboard shows for the endpoint.",
      );
    }
  });
  return entries;
}

/** Where the generated secret is kept. */
export function storedSecretPath(dataDir: string): string {
  return join(dataDir, "webhook-secret");
}

/** The secret a previous start generated, if any. */
export function readStoredSecret(dataDir: string): string | undefined {
  const path = storedSecretPath(dataDir);
  if (!existsSync(path)) return undefined;
  const [secret] = parseWebhookSecrets(readFileSync(path, "utf8").trim(), path);
  return secret;
}

/** The stored secret, generated and stored (owner-readable only) on first use. */
export function loadOrCreateSecret(dataDir: string): { secret: string; generated: boolean } {
  const existing = readStoredSecret(dataDir);
  if (existing) return { secret: existing, generated: false };
  const secret = newWebhookSecret();
  const path = storedSecretPath(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return { secret, generated: true };
}
