import { eventCatalog, isCatalogEventType } from "@stripe-webhooks/core/catalog";
import { stripeApiVersion } from "@stripe-webhooks/core/stripe-version";
import { buildEvent, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { closestTypes, typesOutsideCatalog } from "./event-types.ts";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { parseCli, parseCount, runMain, UsageError } from "./cli.ts";
import { readReceiverState, resolveDataDir } from "./data-dir.ts";
import { parseWebhookSecrets, readStoredSecret } from "./secrets.ts";
import { checkApiKey, runStripeTrigger, stripeCliBinary } from "./stripe-cli.ts";
import { formatTable, printable } from "./table.ts";

/*
 * `npm run trigger`: sends realistic, correctly signed Stripe events to a receiver, the way
 * Stripe delivers them (pretty-printed JSON, a fresh signature on every attempt).
 */

const usage = `Usage: npm run trigger -- <event-type> [options]
       npm run trigger -- --list
       npm run trigger -- --stripe <event-type>

Options:
  --count N        distinct events to send (default 1, at most 1000)
  --duplicates K   deliver each event K more times with the same id, as Stripe's retries
                   do (default 0, at most 100)
  --url URL        where to post (default: the running receiver's webhook URL, else
                   http://127.0.0.1:$PORT${webhookPath} with PORT defaulting to 3000)
  --secret S       signing secret (default: the first of STRIPE_WEBHOOK_SECRET, else the
                   one the receiver generated in its data directory)
  --data-dir DIR   the receiver's data directory [DATA_DIR, default .data/local]
  --json           print the deliveries as a JSON array
  --list           list the event types this tool sends, marking those in the catalog
                   (with --json, as [{ "type", "catalog" }])
  --stripe         instead, run the Stripe CLI's \`stripe trigger <event-type>\` with
                   STRIPE_API_KEY (test mode): Stripe creates the objects in that account
                   and sends the events to \`stripe listen\` (which \`npm start\` runs when
                   given STRIPE_API_KEY); exits with the CLI's status
Any other type is refused (exit 2, nothing sent) with the closest types it sends.
Exits 1 if any delivery is answered with a status other than 2xx.`;

/** What the tool sends: the catalog's types, then a few real types outside it. */
const sendableTypes: readonly string[] = [...eventCatalog, ...typesOutsideCatalog];

function printList(json: boolean): void {
  const types = sendableTypes.map((type) => ({ type, catalog: isCatalogEventType(type) }));
  if (json) {
    console.log(JSON.stringify(types, null, 2));
    return;
  }
  console.log(formatTable(["TYPE", "CATALOG"], types.map(({ type, catalog }) => [type, catalog ? "yes" : "no"])));
  console.log(
    "Catalog types are handled (and a deployed stage is subscribed to them); the receiver records " +
      "the others as ignored, and a deployed stage never receives them.",
  );
}

/** The refusal of a type the tool does not send: most likely a typo of one it does. */
function unknownType(type: string): UsageError {
  const closest = closestTypes(type, sendableTypes).map(
    (candidate) => `${candidate}${isCatalogEventType(candidate) ? "" : " (not in the catalog)"}`,
  );
  const suggestion = closest.length === 0 ? "" : ` Did you mean: ${closest.join(", ")}?`;
  return new UsageError(
    `unknown event type "${printable(type)}": nothing was sent.${suggestion} ` +
      "`npm run trigger -- --list` shows every type this tool sends.",
  );
}

interface Delivery {
  id: string;
  type: string;
  attempt: number;
  attempts: number;
  status: number;
  response: string;
  durationMs: number;
}

function resolveUrl(flag: string | undefined, dataDir: string): string {
  if (flag) {
    if (!URL.canParse(flag)) throw new UsageError(`--url "${flag}" is not a URL`);
    return flag;
  }
  if (process.env.PORT) return `http://127.0.0.1:${process.env.PORT}${webhookPath}`;
  return readReceiverState(dataDir)?.url ?? `http://127.0.0.1:3000${webhookPath}`;
}

function resolveSecret(flag: string | undefined, dataDir: string): string {
  if (flag) return parseWebhookSecrets(flag, "--secret")[0] ?? flag;
  const list = process.env.STRIPE_WEBHOOK_SECRET;
  if (list) return parseWebhookSecrets(list, "STRIPE_WEBHOOK_SECRET")[0] ?? list;
  if (readReceiverState(dataDir)?.secretSource === "env") {
    throw new UsageError(
      "the running receiver was started with STRIPE_WEBHOOK_SECRET: pass the same value " +
        "(STRIPE_WEBHOOK_SECRET=... npm run trigger ... or --secret)",
    );
  }
  const stored = readStoredSecret(dataDir);
  if (!stored) {
    throw new UsageError(
      `no signing secret: none in STRIPE_WEBHOOK_SECRET or --secret, and no generated one in ${dataDir} ` +
        "(start the receiver once with `npm start` to create it)",
    );
  }
  return stored;
}

async function deliver(url: string, payload: string, secret: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signPayload(payload, secret),
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body: payload,
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new Error(`no receiver answers at ${url} (${cause}). Is \`npm start\` running?`);
  }
}

function describe(delivery: Delivery): string {
  const response = printable(delivery.response.replace(/\s+/g, " ").trim());
  const shown = response.length > 200 ? `${response.slice(0, 197)}...` : response;
  const attempt = delivery.attempts > 1 ? ` [${delivery.attempt}/${delivery.attempts}]` : "";
  return `${delivery.id} ${delivery.type}${attempt} -> ${delivery.status} ${shown} (${delivery.durationMs}ms)`;
}

/** `--stripe`: the real CLI's `stripe trigger`, its output shown line by line. */
async function triggerThroughStripe(type: string): Promise<number> {
  const problem = checkApiKey(process.env.STRIPE_API_KEY);
  if (problem) throw new UsageError(problem);
  if (!isCatalogEventType(type)) {
    console.error(`note: ${printable(type)} is not in the catalog, so the receiver's stripe listen does not forward it`);
  }
  return runStripeTrigger({ binary: stripeCliBinary(), env: process.env, print: (line) => console.log(line) }, type);
}

async function main(): Promise<number> {
  const parsed = parseCli(
    {
      options: {
        count: { type: "string" },
        duplicates: { type: "string" },
        url: { type: "string" },
        secret: { type: "string" },
        "data-dir": { type: "string" },
        json: { type: "boolean", default: false },
        list: { type: "boolean", default: false },
        stripe: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    },
    usage,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (values.list) {
    printList(values.json);
    return 0;
  }
  const [type, ...extra] = positionals;
  if (!type || extra.length > 0) throw new UsageError(`give exactly one event type\n\n${usage}`);
  if (values.stripe) {
    const offline = Object.entries({
      "--count": values.count,
      "--duplicates": values.duplicates,
      "--url": values.url,
      "--secret": values.secret,
      "--json": values.json || undefined,
    }).filter(([, value]) => value !== undefined);
    if (offline.length > 0) {
      throw new UsageError(`--stripe sends through Stripe, so ${offline.map(([name]) => name).join(", ")} do not apply`);
    }
    return triggerThroughStripe(type);
  }
  if (!sendableTypes.includes(type)) throw unknownType(type);
  const count = parseCount(values.count, "--count", 1, 1);
  const duplicates = parseCount(values.duplicates, "--duplicates", 0);
  if (count > 1000 || duplicates > 100) throw new UsageError("--count is at most 1000, --duplicates at most 100");

  const dataDir = resolveDataDir(values["data-dir"]);
  const url = resolveUrl(values.url, dataDir);
  const secret = resolveSecret(values.secret, dataDir);
  if (!isCatalogEventType(type) && !values.json) {
    console.error(`note: ${type} is not in the catalog, so a deployed stage is not subscribed to it`);
  }

  const deliveries: Delivery[] = [];
  for (let n = 0; n < count; n += 1) {
    // The version the deployed endpoints are pinned to, as a stage's endpoint would send.
    const event = buildEvent(type, { apiVersion: stripeApiVersion });
    // Stripe sends its events pretty-printed; the signature covers these exact bytes.
    const payload = JSON.stringify(event, null, 2);
    const attempts = duplicates + 1;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      const started = performance.now();
      const { status, body } = await deliver(url, payload, secret);
      const delivery: Delivery = {
        id: String(event.id),
        type,
        attempt,
        attempts,
        status,
        response: body,
        durationMs: Math.round(performance.now() - started),
      };
      deliveries.push(delivery);
      if (!values.json) console.log(describe(delivery));
    }
  }

  const unexpected = deliveries.filter((delivery) => delivery.status < 200 || delivery.status > 299);
  if (values.json) {
    console.log(JSON.stringify(deliveries, null, 2));
  } else {
    console.log(`${deliveries.length} deliveries to ${url}: ${deliveries.length - unexpected.length} ok, ${unexpected.length} unexpected`);
  }
  if (unexpected.some((delivery) => delivery.status === 400)) {
    console.error("hint: a 400 usually means the signature did not verify: is the secret the receiver's?");
  }
  return unexpected.length > 0 ? 1 : 0;
}

runMain(main);
