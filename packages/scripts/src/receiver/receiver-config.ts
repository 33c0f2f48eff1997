import { parseCli, parseCount, UsageError } from "../cli.ts";
import { resolveDataDir } from "../data-dir.ts";
import { ledgerTableName, localRegion } from "../local-dynamo.ts";
import { parseWebhookSecrets } from "../secrets.ts";

/* The local receiver's settings. */

const usage = `Usage: npm start -- [options]

Options (each also settable by the environment variable in brackets):
  --port N                  port on 127.0.0.1, 0 for a free one [PORT, default 3000]
  --data-dir DIR            ledger files, generated secret, receiver.json [DATA_DIR, default .data/local]
  --memory                  keep the ledger in memory: nothing of it survives a restart
  --dynamodb-endpoint URL   use this DynamoDB (DynamoDB Local, a real endpoint) instead of the
                            embedded one [DYNAMODB_ENDPOINT]; the table is [LEDGER_TABLE]
  --inline                  process each event inside its webhook request (a stage's
                            processing: "inline") instead of through the local queue
  --verbose                 let the handler's JSON logs through at INFO [POWERTOOLS_LOG_LEVEL]
  -h, --help

Processing: queued by default, as the stages' presets: the webhook records an event \`queued\`,
sends it to a stand-in for SQS FIFO kept in the data directory (queue/), and answers 200; the
deployed queue consumer takes it from there. \`npm run redrive\` moves dead letters back.

Signing secrets: STRIPE_WEBHOOK_SECRET=whsec_...[,whsec_...]; without it a secret is generated
once and kept in the data directory.

Real test-mode events with the Stripe CLI:
  STRIPE_API_KEY=sk_test_... npm start
                            runs the pinned Stripe CLI's \`stripe listen --forward-to <this
                            receiver's webhook URL>\` for the catalog's events and trusts its
                            signing secret too; then \`npm run trigger -- --stripe <type>\` has
                            Stripe create the objects and send the events. Test-mode keys only
                            (sk_test_, rk_test_); the handlers use the key for Stripe's API too.
  STRIPE_CLI_API_BASE       the CLI's API base (a stand-in on 127.0.0.1 in tests)
  STRIPE_API_BASE           the handlers' Stripe API elsewhere (stripe-mock, a double)
  Without a key: run \`stripe listen --forward-to http://127.0.0.1:<port>/stripe/webhook\`
  yourself and pass the secret it prints in STRIPE_WEBHOOK_SECRET.

Webhooks are received at /stripe/webhook only; other paths are answered 404.
Ctrl+C finishes the requests in flight and closes the ledger; Ctrl+C again cuts them off.`;

const defaultPort = 3000;

export interface Config {
  port: number;
  dataDir: string;
  memory: boolean;
  externalEndpoint: string | undefined;
  tableName: string;
  region: string;
  verbose: boolean;
  /** `queued` unless --inline. */
  processing: "queued" | "inline";
  envSecrets: string[] | undefined;
}

/** The receiver's settings from flags and environment; undefined after printing --help. */
export function readConfig(): Config | undefined {
  const parsed = parseCli(
    {
      options: {
        port: { type: "string" },
        "data-dir": { type: "string" },
        memory: { type: "boolean", default: false },
        "dynamodb-endpoint": { type: "string" },
        verbose: { type: "boolean", default: false },
        inline: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    usage,
  );
  if (!parsed) return undefined;
  const { values } = parsed;
  const externalEndpoint = values["dynamodb-endpoint"] ?? (process.env.DYNAMODB_ENDPOINT || undefined);
  if (externalEndpoint && !URL.canParse(externalEndpoint)) {
    throw new UsageError(`DynamoDB endpoint "${externalEndpoint}" is not a URL (e.g. http://127.0.0.1:8000)`);
  }
  if (externalEndpoint && values.memory) {
    throw new UsageError("--memory and a DynamoDB endpoint exclude each other: pick one");
  }
  const port = parseCount(values.port ?? (process.env.PORT || undefined), "PORT", defaultPort);
  if (port > 65535) throw new UsageError(`PORT must be at most 65535, got ${port}`);
  const secretList = process.env.STRIPE_WEBHOOK_SECRET;
  return {
    port,
    dataDir: resolveDataDir(values["data-dir"]),
    memory: values.memory,
    externalEndpoint,
    tableName: ledgerTableName(),
    region: localRegion(),
    verbose: values.verbose,
    processing: values.inline ? "inline" : "queued",
    envSecrets: secretList ? parseWebhookSecrets(secretList, "STRIPE_WEBHOOK_SECRET") : undefined,
  };
}

/**
 * The handler's log level locally. It logs one JSON line per request through Powertools (INFO
 * when handled, WARN when refused); the receiver's own line says the same readably, the refusal
 * message included, so by default only errors (failures, with their stacks) come through as
 * JSON. Set before the handler's logger is created.
 */
export function configureHandlerLogLevel(config: Config): void {
  process.env.POWERTOOLS_LOG_LEVEL ??= config.verbose ? "INFO" : "ERROR";
}
