import { isAbsolute, relative } from "node:path";
import { eventCatalog } from "@stripe-webhooks/core/catalog";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { createLogger } from "@stripe-webhooks/functions/logger";
import { createWebhookHandler } from "@stripe-webhooks/functions/webhook-handler";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { runMain, UsageError } from "../cli.ts";
import {
  defaultDataDir,
  dynamoDataPath,
  leftoverStripeListen,
  lockDataDir,
  ownCommand,
  removeReceiverState,
  writeReceiverState,
} from "../data-dir.ts";
import { openEmbeddedLedger } from "../embedded-ledger.ts";
import { localMaxConcurrency, localStripeRequestsPerSecond, openLocalQueue, queuedWithoutMessage, releaseAbandonedClaims, type LocalQueue } from "./local-queue.ts";
import { functionTimeoutMs } from "../lambda-context.ts";
import { dynamoClient, ensureLedgerTable, startDynalite } from "../local-dynamo.ts";
import { configureHandlerLogLevel, readConfig, type Config } from "./receiver-config.ts";
import { createReceiverServer, type Invoke } from "./receiver-server.ts";
import { listenForStop } from "./stop-signals.ts";
import { loadOrCreateSecret } from "../secrets.ts";
import { printable } from "../table.ts";
import { secretFingerprint } from "@stripe-webhooks/core/signing-secrets";
import { checkApiKey, describeSecret, startStripeListen, stopLeftoverListen, stripeCliBinary, type StripeListen } from "../stripe-cli.ts";

/*
 * `npm start`: the webhook pipeline on this machine. An HTTP server turns requests into Lambda
 * function URL events for the handler the deployed entry builds (the same factory, handlers and
 * logger), given local dependencies: an embedded DynamoDB and the local signing secrets. Queued
 * (the default), the webhook sends to an SQS FIFO stand-in and the deployed consumer's adapter
 * runs the handlers from it (local-queue.ts); --inline runs them inside the request.
 */

/** How long a second Ctrl+C waits for the ledger to close before exiting anyway. */
const forcedCloseMs = 3000;

function listen(server: ReturnType<typeof createReceiverServer>["server"], port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `port ${port} on 127.0.0.1 is already in use (another receiver?). ` +
                "Stop it, or start with PORT=<free port> (PORT=0 picks one).",
            )
          : error,
      );
    });
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

function processingLines(queue: LocalQueue | undefined): string {
  if (!queue) return "  Processing      inline (--inline): each event runs its handler inside its webhook request";
  const where = queue.persisted ? `journal in ${show(queue.dir)}` : "journal in a temporary directory (--memory), gone at exit";
  return (
    "  Processing      queued: the webhook records an event queued and answers 200; the deployed queue\n" +
    `                  consumer (createQueueConsumerHandler) runs it, ${localMaxConcurrency} batches at a time, its Stripe\n` +
    `                  requests paced at ${localStripeRequestsPerSecond}/s as a test-mode stage's (--inline: in the request)\n` +
    `  Queue           SQS FIFO stand-in, ${where}; a stand-in because no SQS emulator installs\n` +
    "                  from the package registries reachable here. Dead letters: npm run redrive"
  );
}

/** A path as short as it can be shown: relative when under the working directory. */
function show(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown === "" ? "." : shown.startsWith("..") || isAbsolute(shown) ? path : shown;
}

function printBanner(
  config: Config,
  url: string,
  secret: { value: string; note: string },
  ledger: string,
  queue: LocalQueue | undefined,
  stripeCli: { status: string; forwarding: boolean } | undefined,
): void {
  // The other tools find this receiver through the data directory, so a custom one is passed on.
  const env = config.dataDir === defaultDataDir ? "" : `DATA_DIR=${show(config.dataDir)} `;
  console.log(`
Stripe webhook receiver (local): the deployed handler, built by its factory (createWebhookHandler), as a Lambda function URL

  Webhook URL     ${url}
  Signing secret  ${secret.value}  (${secret.note})
  Ledger          ${ledger}
${processingLines(queue)}
  Data directory  ${show(config.dataDir)}
  Handler logs    ${process.env.POWERTOOLS_LOG_LEVEL} and above (--verbose or POWERTOOLS_LOG_LEVEL=INFO for all)
${stripeCli ? `  Stripe CLI      ${stripeCli.status}\n` : ""}
Try it:    ${env}npm run trigger -- checkout.session.completed
           ${env}npm run events
${
  stripeCli?.forwarding
    ? `Real test-mode events from your Stripe account (Stripe creates the objects, stripe listen forwards):
           ${env}npm run trigger -- --stripe checkout.session.completed`
    : `Real test-mode events from your Stripe account: the receiver runs the Stripe CLI's stripe listen
  (the catalog's events, forwarded here, its signing secret trusted) when started with
           STRIPE_API_KEY=sk_test_... npm start`
}
Ctrl+C stops the receiver (in-flight requests finish, the ledger is flushed to disk).
`);
}

async function main(): Promise<number> {
  const config = readConfig();
  if (!config) return 0;
  // A malformed or live key is a setting to fix before anything starts; a key Stripe refuses
  // later only costs the forwarding.
  const stripeKey = process.env.STRIPE_API_KEY || undefined;
  const keyProblem = stripeKey ? checkApiKey(stripeKey) : undefined;
  if (keyProblem) throw new UsageError(keyProblem);

  // Taken atomically, so of two receivers started at the same moment one says the other has it.
  const lock = lockDataDir(config.dataDir, "receiver");
  try {
    return await serve(config, stripeKey);
  } finally {
    lock.release();
  }
}

async function serve(config: Config, stripeKey: string | undefined): Promise<number> {
  const { dataDir } = config;
  const leftover = leftoverStripeListen(dataDir);
  if (leftover && stopLeftoverListen(leftover.pid, leftover.forwardTo)) {
    console.log(`stopped stripe listen (pid ${leftover.pid}), left forwarding to ${leftover.forwardTo} by a receiver that was killed`);
  }
  const secrets = config.envSecrets ?? [loadOrCreateSecret(dataDir).secret];
  // Listened for from here on, so a Ctrl+C during startup still ends in an orderly stop.
  const stopRequests = listenForStop();
  // Checked and opened before anything listens: damaged files stop the start here.
  const embedded = config.externalEndpoint
    ? undefined
    : config.memory
      ? await startDynalite(undefined)
      : await openEmbeddedLedger(dataDir);
  // Opened before anything listens too: a damaged journal stops the start like damaged ledger files.
  let queue: LocalQueue | undefined;
  try {
    queue = config.processing === "queued" ? await openLocalQueue({ dataDir, memory: config.memory }) : undefined;
  } catch (error) {
    await embedded?.close();
    throw error;
  }

  let handlerLoaded: (invoke: Invoke) => void = () => {};
  const handler = new Promise<Invoke>((resolve) => (handlerLoaded = resolve));
  const receiver = createReceiverServer({
    // Requests that arrive while the handler is still loading wait for it.
    invoke: async (event, context) => (await handler)(event, context),
    region: config.region,
    log: (line) => console.log(line),
    logError: (line) => console.error(line),
    path: webhookPath,
  });
  let port: number;
  try {
    port = await listen(receiver.server, config.port);
  } catch (error) {
    await queue?.close();
    await embedded?.close();
    throw error;
  }
  const url = `http://127.0.0.1:${port}${webhookPath}`;
  const endpoint = config.externalEndpoint ?? embedded?.endpoint ?? "";
  let stopping = false;
  let stripeListen: StripeListen | undefined;

  // One close, whichever of the orderly stop and a second Ctrl+C gets there first.
  let ledgerClosed: Promise<void> | undefined;
  const closeLedger = () => (ledgerClosed ??= embedded?.close() ?? Promise.resolve());
  // The consumer finishes its batch before the ledger it writes to closes.
  let queueClosed: Promise<void> | undefined;
  const closeQueue = () => (queueClosed ??= queue?.close() ?? Promise.resolve());
  // Set by a second Ctrl+C: resolves with the exit code once the cut-off is done.
  let cutOff: Promise<number> | undefined;

  async function stop(reason: string | undefined): Promise<number> {
    if (stopping) return 1;
    stopping = true;
    const consumer = queue ? " and the queue consumer's batches" : "";
    if (reason) console.log(`${reason}: finishing in-flight requests${consumer}... (Ctrl+C again to cut them off)`);
    // First, so nothing new is forwarded while the requests in flight finish.
    await stripeListen?.stop();
    // Every invocation ends by the function timeout, so this only cuts off a stuck socket.
    const drained = await receiver.drain(functionTimeoutMs + 1000);
    if (cutOff) return cutOff;
    if (!drained) console.error("some requests were still open after the function timeout and were cut off");
    // After the requests, which send to it; what the consumer has not taken stays in the journal.
    await closeQueue();
    if (cutOff) return cutOff;
    await closeLedger();
    removeReceiverState(dataDir);
    if (reason) console.log("stopped");
    return drained ? 0 : 1;
  }

  /** A second Ctrl+C: what still runs is cut off, and the ledger gets a bounded time to close. */
  async function cutOffNow(signal: NodeJS.Signals): Promise<number> {
    const cut = receiver.cutOff();
    const ids = cut.eventIds.length > 0 ? ` (${cut.eventIds.join(", ")})` : "";
    console.error(
      `${signal} again: cut off ${cut.requests} request(s) in flight${ids}; ` +
        "their senders get no answer and retry, and an event left processing is taken again once its lease expires" +
        (queue ? "; queued events stay in the queue's journal for the next start" : ""),
    );
    const bound = new Promise((resolve) => setTimeout(resolve, forcedCloseMs).unref());
    await Promise.race([closeLedger().catch(() => undefined), bound]);
    removeReceiverState(dataDir);
    return 130;
  }

  try {
    const client = dynamoClient(endpoint, config.region);
    const created = await ensureLedgerTable(client, config.tableName);

    // Before the handler is built, so the CLI's secret is trusted from the first event on.
    const cliSecrets: string[] = [];
    let stripeCli: { status: string; forwarding: boolean } | undefined;
    if (stripeKey) {
      const started = await startStripeListen(
        { binary: stripeCliBinary(), env: process.env, print: (line) => console.log(line) },
        { forwardTo: url, events: eventCatalog },
      );
      if (started.ok) {
        stripeListen = started.listen;
        cliSecrets.push(started.listen.secret);
        stripeCli = {
          forwarding: true,
          status:
            `stripe listen (pid ${started.listen.pid}) forwards the catalog's test-mode events here; ` +
            `its secret ${describeSecret(started.listen.secret)} is trusted too`,
        };
      } else {
        stripeCli = { forwarding: false, status: `not forwarding: ${started.reason}` };
      }
    }

    configureHandlerLogLevel(config);
    if (embedded && !config.memory) {
      // This receiver holds the data directory's lock, so no run of a previous one can still be
      // at work: its claims are abandoned, and their events are taken up now, not after the lease.
      const released = await releaseAbandonedClaims(client, config.tableName);
      if (released > 0) console.log(`${released} event(s) a stopped receiver was processing are taken up again`);
    }
    if (queue) {
      // The webhook sends before it records, so only a lost journal leaves these (local-queue.ts).
      const lost = await queuedWithoutMessage(client, config.tableName, queue.standIn);
      if (lost.length > 0) {
        console.error(
          `${lost.length} event(s) the ledger holds queued are not in the queue (${show(queue.dir)} was replaced or removed): ` +
            `${lost.slice(0, 5).map(printable).join(", ")}${lost.length > 5 ? ", ..." : ""}. ` +
            "The ledger keeps no payloads to send them again: npm run replay -- <evt_...> fetches one from Stripe.",
        );
      }
      if (queue.released > 0) console.log(`${queue.released} queued event(s) a stopped receiver had in progress are taken up again`);
    }
    const logger = createLogger();
    const deps = {
      dynamo: client,
      // Only test-mode events may reach a developer's machine.
      settings: () => ({
        webhookSecret: [...secrets, ...cliSecrets].join(","),
        tableName: config.tableName,
        mode: "test",
        // The handlers' Stripe client (the entitlements fetch subscriptions); STRIPE_API_BASE for a double.
        stripeApiKey: process.env.STRIPE_API_KEY,
        stripeApiBase: process.env.STRIPE_API_BASE,
        processing: config.processing,
      }),
      registry: entitlementHandlers,
      logger,
      // dynalite has no transactions: staged effects are written one by one there (dev only).
      ledger: { transactions: !embedded },
      ...(queue ? { queue: queue.sender } : {}),
    };
    // Typed, so a change to the handler's signature breaks the typecheck here too.
    const invoke: Invoke = createWebhookHandler(deps);
    queue?.startConsumer(deps);
    handlerLoaded(invoke);

    const command = ownCommand();
    writeReceiverState(dataDir, {
      pid: process.pid,
      ...(command === undefined ? {} : { command }),
      url,
      dynamodbEndpoint: endpoint,
      tableName: config.tableName,
      region: config.region,
      persisted: embedded !== undefined && !config.memory,
      secretSource: config.envSecrets ? "env" : "stored",
      processing: config.processing,
      ...(queue?.persisted ? { queueDir: queue.dir } : {}),
      startedAt: new Date().toISOString(),
      ...(stripeListen?.pid === undefined ? {} : { stripeListenPid: stripeListen.pid }),
      // `npm run signing-secrets` shows what is trusted; the CLI's secret lives only in this process.
      ...(cliSecrets[0] === undefined ? {} : { stripeListenFingerprint: secretFingerprint(cliSecrets[0]) }),
    });

    const where = embedded
      ? `embedded DynamoDB (dynalite) ${config.memory ? "in memory (--memory)" : `in ${show(dynamoDataPath(config.dataDir))}`}`
      : `DynamoDB at ${endpoint}`;
    printBanner(
      config,
      url,
      {
        value: secrets.join(","),
        note: config.envSecrets ? "from STRIPE_WEBHOOK_SECRET" : "generated once, kept in the data directory",
      },
      `${where}, table ${config.tableName}${created ? " (created)" : ""}`,
      queue,
      stripeCli,
    );
    // A stable line for scripts and tests to wait for.
    console.log(`ready url=${url} dynamodb=${endpoint} table=${config.tableName} pid=${process.pid}`);
  } catch (error) {
    await stop(undefined);
    throw error;
  }

  const signal = await stopRequests.first;
  const second = new Promise<number>((resolve) => {
    stopRequests.onSecond((again) => {
      cutOff = cutOffNow(again);
      resolve(cutOff);
    });
  });
  // The cut-off ends the process even when the orderly stop is stuck (a ledger that never closes).
  return Promise.race([stop(signal), second]);
}

// The handler's SDK clients keep sockets and timers alive, so the receiver exits explicitly.
runMain(main, { exit: true });
