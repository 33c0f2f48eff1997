import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dynamoDbLocalRequired, javaStatus, startDynamoDbLocal, type Engine } from "@stripe-webhooks/testing/engines";
import { startStripeApiDouble, subscriptionItems, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import type { ColdReport } from "../cold/child.ts";
import type { RequestCountEvents, RequestCountReport } from "../requests/child.ts";
import { counts } from "../requests/measure.ts";
import { buildHandler, buildHarness } from "../shared/build.ts";
import { handlerEnvironment } from "../shared/environment.ts";
import { functionUrlEvent, smallPayload, subscriptionCheckoutPayload, type Payload } from "../shared/events.ts";
import { defineMeasurement } from "../shared/measurement.ts";
import { runReporting } from "../shared/processes.ts";
import { pairedRatios, rotation, summarize, type Summary } from "../shared/stats.ts";
import { ratio, spread, verdict, type Row } from "../shared/table.ts";
import { variant } from "../shared/variants.ts";
import type { Workbench } from "../shared/workbench.ts";
import { buildReplayHandler, buildWarmHarness, interleavedRounds, pinnableCpu, roundPlans, startWarm, type RoundSeries } from "../warm/session.ts";

/*
 * What a handler that acts costs: a staged DynamoDB write, committed with the ledger's
 * completion in one TransactWriteItems, against the same handler staging nothing; and the cold
 * start of ours with a Stripe API key, whose client is built only when a handler first calls
 * the API. dynalite has no transactions, so this measurement runs against DynamoDB Local, and a
 * handler that calls Stripe's API calls the test kit's double of it (Stripe cannot be reached
 * from here).
 */

/** The two handlers compared: ours as deployed, and ours with one handler staging a put. */
const plainEntry = variant("ours").entry;
const effectEntry = "bench/shared/handlers/ours-effect.ts";

// The deployed handler with its Stripe client built at import instead of on first use: the
// control that shows what building it eagerly would cost a cold start.
const eagerSource = `import { createStripeClient } from "@stripe-webhooks/core/stripe-api";
export const stripe = createStripeClient({ apiKey: process.env.BENCH_STRIPE_API_KEY ?? "", apiBase: process.env.STRIPE_API_BASE });
export { handler } from "./${plainEntry}";`;

const apiKey = "sk_test_benchEffects";
const subscription = "sub_bench_effects";

type ColdJob = "noKey" | "lazy" | "eager" | "apiCall";
const coldJobs: readonly ColdJob[] = ["noKey", "lazy", "eager", "apiCall"];

export interface EffectResults {
  /** Why it did not run (no Java for DynamoDB Local), or null. */
  notRun: string | null;
  requests?: { plain: RequestCountReport; effect: RequestCountReport };
  /** Per round, each handler's median batch of small events, CPU µs per event. */
  warmMicros?: { plain: Summary; effect: Summary; effectToPlain: Summary; rounds: number };
  /** Spawn → first response per cold start, ms, and each job's per-run ratio to `noKey`. */
  coldMs?: Record<ColdJob, Summary>;
  coldToNoKey?: Record<ColdJob, Summary>;
}

const expected = { newEvent: 2, duplicate: 1 };

function operations(byOperation: Record<string, number>): string {
  return Object.entries(byOperation)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([operation, count]) => `${operation} ${count}`)
    .join(", ");
}

export const effects = defineMeasurement({
  name: "effects",
  method: `**1, 3, 4 Effects and the Stripe client** (\`bench/effects/\`). Against DynamoDB Local, which has
  TransactWriteItems (dynalite has not). *with effect* is \`bench/shared/handlers/ours-effect.ts\`: ours whose
  handler for a one-off Checkout Session stages one put (a fulfilment record) where the deployed one
  stages nothing; both log one line of their own. Requests are counted by the same proxy as in 4; warm CPU
  is measured as in 3, the two handlers alone in one pinned process, small events only. The cold starts
  run ours in a fresh process per start as in 1, without a Stripe API key, with one (its client is built
  on first use, and this event makes no API call), with one and the client built at import (the control),
  and with one for a subscription Checkout Session, whose handler retrieves the subscription from the test
  kit's Stripe API double and stages the customer's entitlement; in an order rotated run by run, each
  ratio taken run by run against the start without a key.`,
  async run(bench) {
    const java = javaStatus();
    if (!java.ok && dynamoDbLocalRequired()) throw new Error(`effects: DynamoDB Local is required here but cannot start: ${java.reason}`);
    if (!java.ok) {
      bench.progress(`effects: NOT RUN, DynamoDB Local cannot start: ${java.reason}`);
      const notRun = `**not run** (${java.reason})`;
      return {
        results: { notRun: java.reason } satisfies EffectResults,
        rows: [{ section: 3, measure: "Warm CPU per event with a staged effect", target: notRun }],
      };
    }
    bench.progress("effects: starting DynamoDB Local and the Stripe API double");
    const local = await startDynamoDbLocal();
    const double = await startStripeApiDouble({ apiKeys: [apiKey] });
    try {
      return await measureEffects(bench, local, double);
    } finally {
      await double.close();
      await local.stop();
    }
  },
});

async function measureEffects(
  bench: Workbench,
  local: Engine,
  double: StripeApiDouble,
): Promise<{ results: EffectResults; rows: Row[] }> {
  const periodEnd = Math.floor(Date.now() / 1000) + 30 * 86_400;
  double.setSubscription({ id: subscription, status: "active", items: subscriptionItems(subscription, "price_bench", periodEnd) });
  const tables = { plain: await local.createLedgerTable("bench-effects-plain"), effect: await local.createLedgerTable("bench-effects-effect") };
  const env = (name: keyof typeof tables, keyed: boolean) =>
    handlerEnvironment({
      name: `effects-${name}`,
      endpoint: local.endpoint,
      tableName: tables[name],
      secret: bench.secret,
      ...(keyed ? { stripeApiKey: apiKey, stripeApiBase: double.url } : {}),
    });
  const plainBundle = bench.bundles.ours.file;
  const effectBundle = (await buildHandler(effectEntry, join(bench.dir, "ours-effect.mjs"))).file;

  // Requests: every event new, then again.
  bench.progress("effects: requests");
  const requestsHarness = await buildHarness("bench/requests/child.ts", join(bench.dir, "requests-child.mjs"));
  const perMode = bench.smoke ? 2 : 10;
  const countFor = async (name: keyof typeof tables, bundle: string): Promise<RequestCountReport> => {
    const make = () => Array.from({ length: perMode }, () => functionUrlEvent(smallPayload(), bench.secret));
    const events: RequestCountEvents = { likeDynamoDb: make(), plainDynalite: make() };
    const file = join(bench.dir, `effects-requests-${name}.json`);
    writeFileSync(file, JSON.stringify(events));
    return (await runReporting<RequestCountReport>(requestsHarness, [bundle, file, local.endpoint], env(name, false))).report;
  };
  const requests = { plain: await countFor("plain", plainBundle), effect: await countFor("effect", effectBundle) };
  for (const [name, report] of Object.entries(requests)) {
    if (report.likeDynamoDb.statusCodes.some((status) => status !== 200)) throw new Error(`effects: ${name} answered ${report.likeDynamoDb.statusCodes.join(", ")}`);
  }

  const warmMicros = await measureWarm(bench, {
    plain: { bundle: await buildReplayHandler(plainEntry, join(bench.dir, "effects-plain.replay.mjs")), env: env("plain", false) },
    effect: { bundle: await buildReplayHandler(effectEntry, join(bench.dir, "effects-effect.replay.mjs")), env: env("effect", false) },
  });

  // Cold starts.
  const coldHarness = await buildHarness("bench/cold/child.ts", join(bench.dir, "cold-child.mjs"));
  const eagerBundle = (await buildHandler({ source: eagerSource }, join(bench.dir, "ours-eager.mjs"))).file;
  const job = {
    noKey: { bundle: plainBundle, keyed: false, payload: () => smallPayload() },
    lazy: { bundle: plainBundle, keyed: true, payload: () => smallPayload() },
    eager: { bundle: eagerBundle, keyed: true, payload: () => smallPayload() },
    apiCall: { bundle: plainBundle, keyed: true, payload: () => subscriptionCheckoutPayload(subscription) },
  } satisfies Record<ColdJob, { bundle: string; keyed: boolean; payload: () => Payload }>;
  const coldStart = async (name: ColdJob): Promise<number> => {
    const eventFile = join(bench.dir, `effects-cold-${name}.json`);
    writeFileSync(eventFile, JSON.stringify(functionUrlEvent(job[name].payload(), bench.secret)));
    const { report, elapsedMs } = await runReporting<ColdReport>(coldHarness, [job[name].bundle, eventFile], env("plain", job[name].keyed));
    if (report.statusCode !== 200) throw new Error(`effects cold ${name}: first event answered ${report.statusCode}`);
    return elapsedMs;
  };
  const retrievals = double.requestCount(`/v1/subscriptions/${subscription}`);
  for (const name of coldJobs) await coldStart(name);
  const runs = bench.smoke ? 2 : 20;
  const series: Record<ColdJob, number[]> = { noKey: [], lazy: [], eager: [], apiCall: [] };
  for (let run = 0; run < runs; run += 1) {
    bench.progress(`effects: cold start run ${run + 1}/${runs}`);
    for (const name of rotation(coldJobs, run)) series[name].push(await coldStart(name));
  }
  // The API-call start must really have called the API, once per start; the others never.
  const retrieved = double.requestCount(`/v1/subscriptions/${subscription}`) - retrievals;
  if (retrieved !== runs + 1) throw new Error(`effects: ${retrieved} subscription retrievals for ${runs + 1} API-call starts`);
  if (double.requests.length !== double.requestCount(`/v1/subscriptions/${subscription}`)) {
    throw new Error("effects: a start that makes no API call sent a request to the Stripe API double");
  }

  const byJob = <T>(make: (name: ColdJob) => T) =>
    Object.fromEntries(coldJobs.map((name) => [name, make(name)])) as Record<ColdJob, T>;
  const results: EffectResults = {
    notRun: null,
    requests,
    warmMicros,
    coldMs: byJob((name) => summarize(series[name])),
    coldToNoKey: byJob((name) => summarize(pairedRatios(series[name], series.noKey))),
  };
  return { results, rows: effectRows(results) };
}

async function measureWarm(
  bench: Workbench,
  handlers: Record<"plain" | "effect", { bundle: string; env: NodeJS.ProcessEnv }>,
): Promise<NonNullable<EffectResults["warmMicros"]>> {
  const plan = roundPlans(bench.smoke).small;
  const names = ["plain", "effect"] as const;
  const events = { small: Array.from({ length: plan.distinct }, () => functionUrlEvent(smallPayload(), bench.secret)), large: [] };
  bench.progress("effects: warm CPU, recording against DynamoDB Local");
  const warm = await startWarm({
    dir: bench.dir,
    harness: await buildWarmHarness(bench.dir),
    cpu: pinnableCpu(),
    handlers: names.map((name) => ({ name, ...handlers[name] })),
    events,
    env: handlers.plain.env,
  });
  let series: RoundSeries<(typeof names)[number]>;
  try {
    series = await interleavedRounds(warm, names, "small", plan, (message) => bench.progress(`effects: warm ${message}`));
  } finally {
    await warm.stop().catch(() => 0);
  }
  const medians = series.medians;
  return {
    plain: summarize(medians.plain),
    effect: summarize(medians.effect),
    effectToPlain: summarize(pairedRatios(medians.effect, medians.plain)),
    rounds: plan.rounds,
  };
}

// "No growth": 1 lies within the ratio's spread, or below it.
function noGrowth(summary: Summary): boolean {
  return summary.p25 <= 1;
}

function effectRows(results: EffectResults): Row[] {
  const { requests, warmMicros, coldMs, coldToNoKey } = results;
  if (!requests || !warmMicros || !coldMs || !coldToNoKey) return [];
  const effect = requests.effect.likeDynamoDb;
  const plain = requests.plain.likeDynamoDb;
  return [
    {
      section: 1,
      measure: "Cold start on DynamoDB Local, ours without a Stripe API key, ms",
      values: { ours: spread(coldMs.noKey) },
      target: "report",
    },
    {
      section: 1,
      measure: "… with a key, for an event whose handler makes no API call (the client is built on first use), ms",
      values: { ours: spread(coldMs.lazy) },
      target: verdict(
        noGrowth(coldToNoKey.lazy),
        `no growth: with ÷ without key ${ratio(coldToNoKey.lazy)}, 1 not below its spread`,
      ),
    },
    {
      section: 1,
      measure: "… with a key and the client built at import instead (control), ms",
      values: { ours: spread(coldMs.eager) },
      target: `report (÷ without key: ${ratio(coldToNoKey.eager)})`,
    },
    {
      section: 1,
      measure: "… with a key, for a subscription Checkout Session: the subscription retrieved (Stripe API double), its entitlement staged, ms",
      values: { ours: spread(coldMs.apiCall) },
      target: `report (÷ without key: ${ratio(coldToNoKey.apiCall)})`,
    },
    {
      section: 3,
      measure: `Warm CPU per small event on DynamoDB Local (median batch), without / with a staged put, µs`,
      values: { ours: `${spread(warmMicros.plain)} / ${spread(warmMicros.effect)}` },
      target: `report (with ÷ without: ${ratio(warmMicros.effectToPlain)})`,
    },
    {
      section: 4,
      measure: `DynamoDB requests per new event, without / with a staged put (DynamoDB Local; with, over these and the duplicates: ${operations(requests.effect.likeDynamoDb.byOperation)})`,
      values: { ours: `${counts(plain.newEvent)} / ${counts(effect.newEvent)}` },
      target: verdict(effect.newEvent.every((c) => c === expected.newEvent), `with a staged put ${expected.newEvent}`),
    },
    {
      section: 4,
      measure: "… per duplicate, without / with a staged put",
      values: { ours: `${counts(plain.duplicate)} / ${counts(effect.duplicate)}` },
      target: verdict(effect.duplicate.every((c) => c === expected.duplicate), `with a staged put ${expected.duplicate}`),
    },
  ];
}
