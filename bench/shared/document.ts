import { number, renderTable, type Row } from "./table.ts";

/*
 * BENCHMARKS.md: the generated table, then prose that holds whatever the figures are. Nothing
 * below the table quotes a measured number, so a rerun can change the table without making the
 * text wrong; the figures and the targets they meet or miss are all in the table.
 */

export interface Machine {
  date: string;
  durationSeconds: number;
  node: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
}

/** Date, Node version and machine, one line. */
export function renderMachine(m: Machine): string {
  return `${m.date}, Node ${m.node}, ${m.cpu}, ${m.cores} cores, ${number(m.memoryGiB, 1)} GiB, ${m.os}; the run took ${m.durationSeconds} s.`;
}

const howToRead = `Each figure is a median (p25–p75) over repeated runs. Every ratio with a range is the median of
ratios taken run by run (round by round for warm CPU, pair by pair for the burst), ours and the baseline
measured back to back in the same run, so a slow spell on this shared machine hits both sides of it; a
ratio without a range divides two single figures (bytes) or two medians (peak RSS). "report" marks figures
without a target. Rows starting with "…" break the row above them down. Figures of two runs, or of two
versions of this file, differ with the machine and with the method; to tell whether a change made ours
slower, \`npm run bench:compare -- <commit>\` measures the deployed entry at that commit beside this one in a
single run.`;

const reading = `## Reading the table

- **Cold start.** Ours imports the AWS SDK client, \`stripe\` and Powertools' Logger and Metrics; the floor
  imports the SDK client only. Alone, each dependency costs what its probe shows; together they cost less than
  the sum, because Node's http, https and crypto load once for all of them. On its first event ours makes
  one more DynamoDB request than the floor (the claim, then the result) and writes the first log lines.
- **Bundle.** The floor is the SDK client and little else, so when the floor alone is more than half of
  powertools, no handler on this client meets the bundle target built this way. \`stripe\` is the largest
  part of ours beyond the SDK, though ours uses only its signature check. With splitting, the SDK's other
  credential providers move to chunks a Lambda with credentials in its environment never loads.
- **Warm CPU.** Ours does more per event than the floor by design: a DynamoDB claim and a result where
  the floor makes one put, two log lines (the handler's and the summary) and its metrics where the floor
  writes nothing, and stripe's \`constructEvent\` where the floor computes the HMAC by hand. The unit-cost
  rows price some of those; ours' client caches its middleware stack (\`cacheMiddleware: true\`), the
  baselines' rebuild it on every send. The headline rows are the handlers' own work; the "all included"
  rows add the garbage collections and interruptions that land in the batches, which is why they are
  higher and spread wider. The small event's ratio also moves with what else runs on the machine: the
  floor's work, mostly that rebuilding, slows more than ours when other processes contend for memory,
  so its spread widens on a busy machine however the rounds are cut. It moves with the other handlers in
  the process as well (they share one heap), so \`npm run bench:compare\`, which holds other handlers, gives
  its own ours ÷ floor for the same code: compare ratios within one table, never across the two.
- **Requests.** The figure in parentheses is what a duplicate costs on an engine that does not return the
  item with a failed condition (plain dynalite): a read after the failed write.
- **Burst.** Each handler shares one thread with the receiver and dynalite, whose request handling takes
  most of it, so the throughput ratio says little about the handlers' own cost; the row below it, work
  that ran more than once, is the point.
- **Effects and the Stripe client.** A staged put adds one item to the completion's write, which becomes
  a TransactWriteItems instead of an UpdateItem: the same two requests per new event, a little more CPU
  to marshal the item. The Stripe client is built on a handler's first API call, so a key in the
  environment costs an event that makes none nothing; the control shows that building it at import would
  cost little too, since \`stripe\` is imported for the signature check either way. The start whose handler
  does call the API pays for that request and the client's first use of https.
- **Renewal burst.** Both time targets (queued drain and queued p99 answer) are bound here by this machine, not by
  Stripe's limit: every process of the run (the webhook's instances, DynamoDB, SQS, the consumers, Stripe's API)
  shares two cores, where on AWS each runs apart. The busy-cores row shows how little CPU was left while queued
  deliveries were answered, so a queued answer waits mostly for a core, as inline's does, while inline's also waits
  for Stripe. The drain row says when the last delivery was answered: no event can be processed before it arrives,
  so when the deliveries alone end past 1.5 × the floor, no consumer can drain within it on this machine. The
  request counts, 429s, failures and API requests per event do not depend on the machine.
- **Peak RSS.** The warm process also holds the harness's events (the large ones included) and the recorded
  DynamoDB results, so that row bounds the handler's memory from above.`;

const shared = `- **Variants.** *ours*: \`bench/shared/handlers/ours.ts\`, the factory call of the deployed entry
  (\`packages/functions/src/webhook.ts\`: \`createWebhookHandler\` with a \`cacheMiddleware\` DynamoDB client,
  the example handlers, \`createLogger()\` and \`createMetrics()\`), with its links (signing secret, table,
  stage, Stripe API key) read from plain variables instead of \`sst/resource\`. Every variant reads them
  so, and none carries sst's link reader, so they compare alike; the bundle rows also give the deployed
  entry's size with it. The bench sets no Stripe API key but in its effects rows: a handler that would
  fetch a subscription from Stripe's API reports that it did not (of the other rows' events, only the
  burst's reach one). *floor*:
  \`bench/shared/handlers/floor.ts\`, Stripe's signature scheme by hand with \`node:crypto\` (HMAC-SHA256,
  \`timingSafeEqual\`), \`JSON.parse\`, one conditional \`PutItem\` through a default \`DynamoDBClient\` (the bare
  SDK client, importing only that command: SigV4, retries and credentials are table stakes on Lambda).
  *naive*: \`bench/shared/handlers/naive.ts\`, \`new Stripe(key).webhooks.constructEvent\` and the same put, no
  ledger states. *powertools*: \`bench/shared/handlers/powertools.ts\`, naive plus \`makeIdempotent\` (keyed on
  the event id, DynamoDB persistence layer) and Logger.
- **Build.** Every handler is bundled as SST bundles a Node function for deploy (the synth suite's
  \`Runtime.Build\` stand-in): esbuild, bundle, minify, ESM, platform node, \`mainFields: ["module", "main"]\`,
  the createRequire banner. Handler processes get the environment Lambda gives the function, built from
  scratch, so nothing in the developer's shell changes what is measured.`;

export function renderBenchmarksFile(machine: Machine, rows: readonly Row[], methods: readonly string[]): string {
  return [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (a few minutes on two cores). Lambda runs Node 24; this machine:",
    "",
    renderMachine(machine),
    "",
    howToRead,
    "",
    renderTable(rows),
    "",
    reading,
    "",
    "## What is measured, and how",
    "",
    shared,
    ...methods.map((method) => `- ${method}`),
    "",
  ].join("\n");
}
