import { consumerRequestsPerSecond } from "@stripe-webhooks/core/limits";
import { startDynaliteProcess, type Engine } from "@stripe-webhooks/testing/engines";
import { stageSettings } from "../../infra/stage.ts";
import { defineMeasurement } from "../shared/measurement.ts";
import type { Workbench } from "../shared/workbench.ts";
import { pairedRatios, summarize, type Summary } from "../shared/stats.ts";
import { amount, number, ratio, spread, verdict, type Row } from "../shared/table.ts";
import { runRenewal, type ProcessingMode, type RenewalRun } from "./burst.ts";
import { awsPrices, costPerMillion } from "./prices.ts";

/*
 * The renewal burst, inline and queued side by side in one run: the same customers, events and
 * delivery order for both modes, alternately first, round by round, at Stripe's test-mode read
 * limit (with the consumer settings of the development preset) and at its live-mode one (with the
 * production preset's). Ratios between the modes are taken round by round.
 */

/** Stripe's limits per second, each with the consumer settings of a stage preset of that mode. */
const limits = [
  { readsPerSecond: 25, preset: "development", queue: stageSettings("development").queue },
  { readsPerSecond: 100, preset: "production", queue: stageSettings("production").queue },
] as const;

const modes: readonly ProcessingMode[] = ["inline", "queued"];

/** What the stage presets' maxConcurrency was derived with (infra/stage.ts): one Stripe read takes about this long (at most). */
const stripeLatencyMs = 100;
/** The events were created this long before their deliveries: the backlog a renewal run leaves. */
const createdSecondsAgo = 60;
const concurrency = 32;

export interface RenewalLimitResults {
  readsPerSecond: number;
  maxConcurrency: number;
  /** The consumers' budget of Stripe requests per second (the preset's stripeRequestsPerSecond). */
  budgetPerSecond: number;
  runs: Record<ProcessingMode, RenewalRun[]>;
  /** Per round: queued p99 answer ÷ inline's. */
  p99QueuedToInline: Summary;
  costPerMillion: Record<ProcessingMode, Summary>;
}

export interface RenewalResults {
  customers: number;
  rounds: number;
  stripeLatencyMs: number;
  createdSecondsAgo: number;
  limits: RenewalLimitResults[];
}

function cost(run: RenewalRun): number {
  const events = run.events;
  const sum = (pick: (tally: RenewalRun["dynamo"]["new"]) => number) => pick(run.dynamo.new) + pick(run.dynamo.duplicate) + pick(run.dynamo.consumer);
  const sqs = run.sqs.new.requests + run.sqs.duplicate.requests + run.sqs.consumer.requests;
  return costPerMillion({
    lambdaInvocations: (run.deliveries + run.consumerInvocations) / events,
    lambdaSeconds: (run.webhookMs + run.consumerMs) / 1000 / events,
    sqsRequests: sqs / events,
    readUnits: sum((tally) => tally.readUnits) / events,
    writeUnits: sum((tally) => tally.writeUnits) / events,
  }).total;
}

const whole = (value: number) => number(value, 0);
const two = (value: number) => number(value, 2);
const dollars = (value: number) => `$${number(value, 2)}`;

function rowsFor(result: RenewalLimitResults, customers: number, rounds: number): Row[] {
  const { runs } = result;
  const of = (mode: ProcessingMode, pick: (run: RenewalRun) => number) => summarize(runs[mode].map(pick));
  const pair = (pick: (run: RenewalRun) => number, format: (value: number) => string = whole) =>
    `${spread(of("inline", pick), format)} / ${spread(of("queued", pick), format)}`;
  const worst = (pick: (run: RenewalRun) => number) => Math.max(...runs.queued.map(pick));
  const sample = runs.queued[0];
  const rate = result.readsPerSecond;
  const floorSeconds = sample ? sample.floorMs / 1000 : 0;
  const perEvent = (run: RenewalRun) => run.apiRequests / run.events;
  const drainRatios = (mode: ProcessingMode) => runs[mode].map((run) => (run.drainMs === null ? Number.POSITIVE_INFINITY : run.drainMs / run.floorMs));
  const drain = summarize(drainRatios("queued"));
  // An event answered 5xx inline waits for Stripe's retry, hours away: no drain time to give.
  const drainCell = (mode: ProcessingMode) =>
    runs[mode].every((run) => run.drainMs !== null)
      ? spread(summarize(drainRatios(mode)), two)
      : `– (${spread(of(mode, (run) => run.events - run.processed), whole)} events unprocessed, left to Stripe's retries)`;
  const title = `Renewal burst at ${rate} reads/s (${result.maxConcurrency} consumers sharing ${result.budgetPerSecond} requests/s)`;
  return [
    {
      section: 8,
      measure: `${title}: ${customers} customers, ${sample?.events ?? 0} events, ${sample?.deliveries ?? 0} deliveries, ${concurrency} concurrent; answers to Stripe that were 5xx, inline / queued`,
      values: { ours: pair((run) => run.answers5xx) },
      target: verdict(worst((run) => run.answers5xx) === 0, `queued 0: ${worst((run) => run.answers5xx)}`),
    },
    {
      section: 8,
      measure: "… 429s from Stripe's API seen, inline / queued",
      values: { ours: pair((run) => run.rateLimited) },
      target: "report",
    },
    {
      section: 8,
      measure: "… events left failed by a rate limit at the end (queued: or dead-lettered), inline / queued",
      values: { ours: pair((run) => run.failedByRateLimit) },
      target: verdict(
        worst((run) => run.failedByRateLimit + run.deadLettered) === 0,
        `queued 0: ${worst((run) => run.failedByRateLimit + run.deadLettered)}`,
      ),
    },
    {
      section: 8,
      measure: "… Stripe API requests per event, inline / queued",
      values: { ours: pair(perEvent, two) },
      target: verdict(worst(perEvent) <= 0.5, `queued ≤ 0.5: ${two(worst(perEvent))}`),
    },
    {
      section: 8,
      measure: `… time until every event is processed ÷ the floor (${sample?.subscriptions ?? 0} subscriptions ÷ ${rate}/s = ${number(floorSeconds, 2)} s), inline / queued`,
      values: { ours: `${drainCell("inline")} / ${drainCell("queued")} (its deliveries were all answered at ${spread(of("queued", (run) => run.lastAnswerMs / run.floorMs), two)})` },
      target: verdict(drain.max <= 1.5, `queued ≤ 1.5: ${two(drain.max)}`),
    },
    {
      section: 8,
      measure: "… time to answer Stripe, p50 / p99, inline; queued, ms",
      values: {
        ours: `${spread(of("inline", (run) => run.answerP50Ms))} / ${spread(of("inline", (run) => run.answerP99Ms))}; ${spread(of("queued", (run) => run.answerP50Ms))} / ${spread(of("queued", (run) => run.answerP99Ms))}`,
      },
      target: verdict(result.p99QueuedToInline.max <= 0.2, `queued p99 ≤ 0.2 × inline's: ${ratio(result.p99QueuedToInline)}`),
    },
    {
      section: 8,
      measure: `… while the deliveries were answered: the machine's ${sample?.cores ?? 0} cores busy (by every process of the run), %, and the CPU the webhook's process spent per delivery, ms; inline / queued`,
      values: {
        ours: `${spread(of("inline", (run) => 100 * run.answeringCoresBusy), whole)} / ${spread(of("queued", (run) => 100 * run.answeringCoresBusy), whole)}; ${spread(of("inline", (run) => run.webhookCpuMsPerDelivery), two)} / ${spread(of("queued", (run) => run.webhookCpuMsPerDelivery), two)}`,
      },
      target: "report",
    },
    {
      section: 8,
      measure: "… DynamoDB requests per new event / per duplicate delivery (as AWS bills them), inline; queued",
      values: {
        ours: `${amount(of("inline", (run) => run.perEvent.newEvent.dynamoRequests).median)} / ${amount(of("inline", (run) => run.perEvent.duplicate.dynamoRequests).median)}; ${amount(of("queued", (run) => run.perEvent.newEvent.dynamoRequests).median)} / ${amount(of("queued", (run) => run.perEvent.duplicate.dynamoRequests).median)}`,
      },
      target: "report",
    },
    {
      section: 8,
      measure: "… SQS requests per new event / per duplicate delivery, queued (inline sends none)",
      values: {
        ours: `${amount(of("queued", (run) => run.perEvent.newEvent.sqsRequests).median)} / ${amount(of("queued", (run) => run.perEvent.duplicate.sqsRequests).median)}`,
      },
      target: "report",
    },
    {
      section: 8,
      measure: `… cost per million events (Lambda, SQS FIFO, DynamoDB on demand; ${awsPrices.publishedAs}), inline / queued`,
      values: { ours: `${spread(result.costPerMillion.inline, dollars)} / ${spread(result.costPerMillion.queued, dollars)}` },
      target: `report (over ${rounds} rounds)`,
    },
  ];
}

/** Both modes at one of Stripe's limits, alternately first, round by round. */
async function measureLimit(
  limit: (typeof limits)[number],
  context: { engine: Engine; customers: number; rounds: number; bench: Workbench },
): Promise<RenewalLimitResults> {
  const { engine, customers, rounds, bench } = context;
  const runs: Record<ProcessingMode, RenewalRun[]> = { inline: [], queued: [] };
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      bench.progress(`renewal ${limit.readsPerSecond}/s, round ${round + 1}/${rounds}: ${mode}`);
      runs[mode].push(
        await runRenewal({
          mode,
          engine,
          transactions: false,
          customers,
          concurrency,
          readsPerSecond: limit.readsPerSecond,
          maxConcurrency: limit.queue.maxConcurrency,
          consumerRequestsPerSecond: consumerRequestsPerSecond(limit.queue.stripeRequestsPerSecond, limit.queue.maxConcurrency),
          stripeLatencyMs,
          createdSecondsAgo,
          seed: 1000 * limit.readsPerSecond + round + 1,
          secret: bench.secret,
          drainTimeoutMs: bench.smoke ? 60_000 : 300_000,
        }),
      );
    }
  }
  const p99 = (mode: ProcessingMode) => runs[mode].map((run) => run.answerP99Ms);
  return {
    readsPerSecond: limit.readsPerSecond,
    maxConcurrency: limit.queue.maxConcurrency,
    budgetPerSecond: limit.queue.stripeRequestsPerSecond,
    runs,
    p99QueuedToInline: summarize(pairedRatios(p99("queued"), p99("inline"))),
    costPerMillion: { inline: summarize(runs.inline.map(cost)), queued: summarize(runs.queued.map(cost)) },
  };
}

export const renewal = defineMeasurement({
  name: "renewal",
  method: `**8 Renewal burst** (\`bench/renewal/\`). Inline and queued processing side by side, in up to five processes, each
  playing what runs apart in production. The bench's own process is Stripe sending and the webhook's Lambda instances:
  the handler as the entry builds it (\`createWebhookHandler\`), invoked with the function URL event of each signed
  delivery, ${concurrency} at a time. DynamoDB is dynalite in a process of its own. Stripe's API is the test kit's
  double (\`stripe-side.ts\`), enforcing the read limit (a token bucket the size of one second's reads) behind a proxy
  that answers each request ${stripeLatencyMs} ms later, the read time the presets' concurrency was derived with; the
  example handlers read it through the real \`stripe\` SDK. Queued, the webhook's sends go over IPC to SQS and Lambda's
  pollers (\`sqs-side.ts\`: the SQS FIFO stand-in, \`packages/scripts/src/sqs-fifo-standin.ts\`, and its polling
  driver), which invoke the consumer's instances in a process of their own (\`consumer-side.ts\`): the deployed adapter
  (\`createQueueConsumerHandler\`) as the stage presets deploy it, at most \`maxConcurrency\` instances at once, each
  with its own clients and one batch at a time as Lambda runs them, each pacing its Stripe requests at its share of
  \`stripeRequestsPerSecond\` (the development preset against the test-mode limit, the production one against the live
  limit); their visibility changes and dead-letter copies go back to the stand-in. All five share this machine's cores,
  which on AWS they would not: the row on busy cores says how much of the machine the answers had. Each customer's
  subscription renewed: two \`customer.subscription.updated\` and an \`invoice.paid\` with stale payloads, created a
  minute before the burst (a backlog; events handled within seconds of their creation fetch every time, see
  \`syncedAfterEventMarginMs\`), in creation order with neighbours swapped, a third of them delivered again later; the
  same deliveries for both modes. DynamoDB requests are counted by SDK middleware in each process and SQS requests at
  the stand-in's API, each charged to the delivery whose invocation made it (AsyncLocalStorage, and carried with each
  send), the consumer's to the events it processed; dynalite has no transactions, so a staged effect it writes on its
  own is counted as the transaction AWS would bill. Inline, an event answered 5xx waits for Stripe's retries, hours
  later, which the run does not wait for. Queued, the run waits until the consumer has processed every event. The cost
  row prices Lambda invocations and their time here at 512 MB arm64 (the webhook's invocations, and the consumer's
  batches), SQS requests per 64 KiB chunk, and DynamoDB read and write units, with the prices in
  \`bench/renewal/prices.ts\`; inline's leaves out the retries its failed events will cost.`,
  async run(bench) {
    const customers = bench.smoke ? 4 : 60;
    const rounds = bench.smoke ? 1 : 3;
    const results: RenewalLimitResults[] = [];
    // DynamoDB in a process of its own, as it is a service of its own; the bench's engine is in this one.
    const engine = await startDynaliteProcess();
    try {
      for (const limit of limits) results.push(await measureLimit(limit, { engine, customers, rounds, bench }));
    } finally {
      await engine.stop();
    }
    return {
      results: { customers, rounds, stripeLatencyMs, createdSecondsAgo, limits: results } satisfies RenewalResults,
      rows: results.flatMap((result) => rowsFor(result, customers, rounds)),
    };
  },
});
