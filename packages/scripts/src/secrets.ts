import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";
import { UsageError } from "./cli.ts";

/*
 * The signing secrets of the local receiver: STRIPE_WEBHOOK_SECRET when given, else one
 * generated on first start and kept in the data directory so that restarts and the trigger
 * tool agree on it.
 */

// Stripe's secrets are `whsec_` plus base64-ish text; `stripe listen` prints 64 hex digits. The
// check is only as strict as needed to catch a wrong value pasted in (an API key, a truncated copy).
const secretPrefix = "whsec_";
const minimumSecretLength = 8;
const secretCharacters = /^[A-Za-z0-9+/=_-]*$/;
const secretRule =
  `"${secretPrefix}" followed by at least ${minimumSecretLength} characters, each a letter, a digit or one of + / = _ -`;

/**
 * What is wrong with a value that is not a signing secret, told without quoting any of it: the
 * value may be a live API key pasted into the wrong variable, and even a near-miss secret is
 * still a secret.
 */
function secretProblem(value: string): string | undefined {
  if (value === "") return "it is empty";
  if (/^(sk|rk)_(test|live)_/.test(value)) return "it is a Stripe API key, not a webhook signing secret";
  if (!value.startsWith(secretPrefix)) return `it does not start with "${secretPrefix}"`;
  const rest = value.slice(secretPrefix.length);
  if (!secretCharacters.test(rest)) return "it contains a character outside that set (a space, a quote or a line break?)";
  if (rest.length < minimumSecretLength) {
    return `it has ${rest.length} character${rest.length === 1 ? "" : "s"} after "${secretPrefix}"`;
  }
  return undefined;
}

/**
 * The secrets in a comma-separated list, each checked for Stripe's format. Throws a
 * UsageError naming `source`, the rule and what breaks it (never any part of the value) when one
 * is malformed.
 */
export function parseWebhookSecrets(list: string, source: string): string[] {
  const entries = list.split(",").map((entry) => entry.trim());
  entries.forEach((entry, index) => {
    const problem = secretProblem(entry);
    if (problem === undefined) return;
    const which = entries.length > 1 ? `entry ${index + 1} of ${source}` : source;
    throw new UsageError(
      `${which} is not a Stripe webhook signing secret (expected ${secretRule}): ${problem}. ` +
        "Use the whsec_... value that `stripe listen` or the Stripe Dashboard shows for the endpoint.",
    );
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
