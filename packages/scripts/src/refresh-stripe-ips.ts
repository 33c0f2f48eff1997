import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseCli, runMain, UsageError } from "./cli.ts";

/*
 * `npm run stripe-ips`: rewrites infra/stripe-webhook-ips.json from the webhook IP list Stripe
 * publishes (documented at docs.stripe.com/ips). A stage whose WAF allows only Stripe's IPs
 * (infra/stage.ts, `waf.stripeIpAllowlist`) refuses deliveries from any address missing here,
 * so refresh whenever Stripe announces a change (api-announce list) and deploy.
 */

export const stripeWebhookIpsUrl = "https://stripe.com/files/ips/ips_webhooks.json";
export const stripeIpsDocumentation = "https://docs.stripe.com/ips#webhook-notifications";
const ipFile = join(import.meta.dirname, "../../../infra/stripe-webhook-ips.json");

const usage = `Usage: npm run stripe-ips -- [options]

Downloads ${stripeWebhookIpsUrl} and rewrites infra/stripe-webhook-ips.json.

Options:
  --from FILE   read Stripe's JSON from FILE instead of downloading it
  --check       change nothing; exit 1 when the stored list differs from Stripe's`;

export interface StripeIpFile {
  source: string;
  documentation: string;
  /** The day the list was taken from Stripe, YYYY-MM-DD. */
  retrievedAt: string;
  method: string;
  addresses: string[];
}

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The addresses in Stripe's published JSON (`{"WEBHOOKS": ["3.18.12.63", ...]}`), validated. */
export function parseStripeWebhookIps(payload: unknown): string[] {
  const list = typeof payload === "object" && payload !== null ? (payload as { WEBHOOKS?: unknown }).WEBHOOKS : undefined;
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error(`Stripe's list has no "WEBHOOKS" addresses; has its format changed? See ${stripeIpsDocumentation}.`);
  }
  const invalid = list.filter((ip) => typeof ip !== "string" || !ipv4.test(ip));
  if (invalid.length > 0) throw new Error(`Stripe's list holds entries that are not IPv4 addresses: ${invalid.map(String).join(", ")}.`);
  return [...new Set(list as string[])];
}

/** What changes between two lists, in the order each list has them. */
export function compareAddresses(stored: readonly string[], published: readonly string[]) {
  return {
    added: published.filter((ip) => !stored.includes(ip)),
    removed: stored.filter((ip) => !published.includes(ip)),
  };
}

/** The stored file's contents for a list retrieved on `day`. */
export function renderIpFile(addresses: readonly string[], day: string): string {
  const file: StripeIpFile = {
    source: stripeWebhookIpsUrl,
    documentation: stripeIpsDocumentation,
    retrievedAt: day,
    method: "Downloaded by packages/scripts/src/refresh-stripe-ips.ts (npm run stripe-ips).",
    addresses: [...addresses],
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

async function download(): Promise<unknown> {
  const response = await fetch(stripeWebhookIpsUrl, { signal: AbortSignal.timeout(15_000) });
  if (!response.ok) throw new Error(`${stripeWebhookIpsUrl} answered ${response.status} ${response.statusText}`);
  return response.json();
}

async function main(): Promise<number> {
  const parsed = parseCli({ options: { from: { type: "string" }, check: { type: "boolean" } } }, usage);
  if (!parsed) return 0;
  const { values } = parsed;
  let payload: unknown;
  try {
    payload = values.from ? JSON.parse(readFileSync(values.from, "utf8")) : await download();
  } catch (error) {
    throw new UsageError(`cannot read Stripe's list: ${error instanceof Error ? error.message : String(error)}`);
  }
  const published = parseStripeWebhookIps(payload);
  const stored = (JSON.parse(readFileSync(ipFile, "utf8")) as StripeIpFile).addresses;
  const { added, removed } = compareAddresses(stored, published);
  for (const ip of added) console.log(`+ ${ip}`);
  for (const ip of removed) console.log(`- ${ip}`);
  if (values.check) {
    console.log(added.length + removed.length === 0 ? "infra/stripe-webhook-ips.json matches Stripe's list." : "infra/stripe-webhook-ips.json differs from Stripe's list: run npm run stripe-ips.");
    return added.length + removed.length === 0 ? 0 : 1;
  }
  writeFileSync(ipFile, renderIpFile(published, new Date().toISOString().slice(0, 10)));
  console.log(`Wrote ${published.length} addresses to infra/stripe-webhook-ips.json. Deploy the stages whose WAF allows only Stripe's IPs.`);
  return 0;
}

// Run as a command, not when a test imports the functions above.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(main);
