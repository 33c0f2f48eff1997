import { Resource } from "sst";
import { secretFingerprint, splitSecretList } from "@stripe-webhooks/core/signing-secrets";
import { parseCli, runMain, UsageError } from "./cli.ts";
import { readReceiverState, resolveDataDir } from "./data-dir.ts";
import { readStoredSecret } from "./secrets.ts";

/*
 * `npm run signing-secrets`: which signing secrets a stage (under `sst shell --stage <name>`) or
 * the local receiver trusts, each with the endpoint it belongs to, where it came from and a
 * fingerprint, never the value. An operator compares the fingerprint with the one computed from
 * what Stripe's Dashboard reveals for the endpoint (README, "Rotate the signing secret").
 */

const usage = `Usage: npm run signing-secrets -- [options]

Lists the signing secrets the webhook trusts: endpoint, origin and fingerprint (the first 8 hex
digits of the secret's SHA-256), never the secret itself.

Options:
  --data-dir DIR   the local receiver's data directory [DATA_DIR, default .data/local]
For a deployed stage: npx sst shell --stage <name> -- npm run signing-secrets`;

/** One trusted secret as the tool shows it. */
interface SecretRow {
  endpoint: string;
  origin: string;
  fingerprint: string;
}

/** A linked value, or undefined when it is not linked (not under `sst shell`). */
function linked<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/**
 * The rows for a deployed stage's `StripeWebhookSecret` value, told where each endpoint's secrets
 * come from by the ids whose secrets the override set.
 */
function stageRows(value: string, overriddenIds: readonly string[]): SecretRow[] {
  return splitSecretList(value).map(({ endpointId, secret }) => ({
    endpoint: endpointId ?? "(unbound)",
    origin: endpointId !== undefined && overriddenIds.includes(endpointId) ? "override (sst secret set)" : "creation (the endpoint's own)",
    fingerprint: secretFingerprint(secret),
  }));
}

/**
 * The rows for the local receiver: STRIPE_WEBHOOK_SECRET when it was started with one, else the
 * secret it generated and keeps in its data directory, then the `stripe listen` secret it trusts
 * beside it (only its fingerprint is published, in receiver.json).
 */
function localRows(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretRow[] {
  const state = readReceiverState(dataDir);
  const rows: SecretRow[] = [];
  if (state?.secretSource === "env") {
    const value = env.STRIPE_WEBHOOK_SECRET;
    if (!value) throw new UsageError("The receiver was started with STRIPE_WEBHOOK_SECRET; run this with the same variable set.");
    for (const { secret } of splitSecretList(value)) rows.push({ endpoint: "local", origin: "STRIPE_WEBHOOK_SECRET", fingerprint: secretFingerprint(secret) });
  } else {
    const stored = readStoredSecret(dataDir);
    if (!stored) throw new UsageError(`No receiver has run on ${dataDir} yet (no signing secret there): start one with npm start.`);
    rows.push({ endpoint: "local", origin: `generated (${dataDir})`, fingerprint: secretFingerprint(stored) });
  }
  if (state?.stripeListenFingerprint) {
    rows.push({ endpoint: "stripe listen", origin: "the Stripe CLI's session", fingerprint: state.stripeListenFingerprint });
  }
  return rows;
}

function table(rows: readonly SecretRow[]): string {
  const header: SecretRow = { endpoint: "ENDPOINT", origin: "ORIGIN", fingerprint: "FINGERPRINT" };
  const width = (key: keyof SecretRow) => Math.max(...[header, ...rows].map((row) => row[key].length));
  return [header, ...rows]
    .map((row) => `${row.endpoint.padEnd(width("endpoint"))}  ${row.origin.padEnd(width("origin"))}  ${row.fingerprint}`)
    .join("\n");
}

async function main(): Promise<number> {
  const parsed = parseCli({ options: { "data-dir": { type: "string" } }, allowPositionals: false, strict: true }, usage);
  if (!parsed) return 0;
  const value = linked(() => Resource.StripeWebhookSecret.value);
  if (value !== undefined) {
    const overriddenIds = linked(() => Resource.StripeEndpoint.overriddenIds) ?? [];
    console.log(`Stage "${linked(() => Resource.App.stage) ?? "?"}" trusts:`);
    console.log(table(stageRows(value, overriddenIds)));
    return 0;
  }
  const dataDir = resolveDataDir(parsed.values["data-dir"]);
  console.log(`The local receiver (${dataDir}) trusts:`);
  console.log(table(localRows(dataDir)));
  return 0;
}

runMain(main);
