import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ledgerHandlerActions } from "@stripe-webhooks/core/ledger-table";
import { badInputCases } from "./support/bad-input-cases.ts";
import type { SuiteFigures } from "./support/figures.ts";
import { figuresDir, reportPath } from "./support/paths.ts";

/*
 * Renders RELIABILITY.md from the figures the reliability suites leave in .data/reliability/
 * (git-ignored). `npm run reliability` runs the suites (DynamoDB Local required) and then this;
 * a plain `npm test` refreshes the figures but never the tracked report.
 */

/** The suites of test/reliability, which run the webhook path. */
const webhookSuites = ["bad-input", "properties", "concurrency", "faults"] as const;
/** Every suite that leaves figures: those, and core's reconciler suite (packages/core/test/reconcile.test.ts). */
export const suites = [...webhookSuites, "reconciler"] as const;
type Suite = (typeof suites)[number];
type Figures = Record<Suite, SuiteFigures>;

/** One guarantee, the test that proves it, and the figure that says how hard it was tried. */
export interface Guarantee {
  id: string;
  statement: string;
  /** Test file (from the repository root) and a test or describe title in it. */
  proof: { file: string; title: string }[];
  figure: (figures: Figures) => string;
}

const n = (value: number) => value.toLocaleString("en-US");
const f = (figures: Figures, suite: Suite, name: string) => figures[suite].figures[name] ?? 0;
const sum = (figures: Figures, name: string) => suites.reduce((total, suite) => total + f(figures, suite, name), 0);

export const guarantees: Guarantee[] = [
  {
    id: "G1",
    statement: "Bad input is refused with its documented status; the ledger is left byte-for-byte unchanged and no handler runs.",
    proof: [
      { file: "test/reliability/bad-input.test.ts", title: "bad input over HTTP, against npm start" },
      { file: "test/reliability/bad-input.test.ts", title: "bad input against the Lambda entry" },
    ],
    figure: (x) =>
      `${badInputCases.length} cases (${badInputCases.filter((c) => !c.accepted).length} refusals, ` +
      `${badInputCases.filter((c) => c.accepted).length} accepted controls); ${n(f(x, "bad-input", "refusals"))} refusals checked ` +
      `over HTTP (${f(x, "bad-input", "cases over HTTP")} cases) and direct on each engine`,
  },
  {
    id: "G2",
    statement: "No Stripe-Signature header, body, content type or method makes the handler throw; every answer is a documented status, and nothing runs without a 200.",
    proof: [
      { file: "test/reliability/properties.test.ts", title: "never throws; answers 200 only for a header holding the genuine v1, else 400 invalid_signature" },
      { file: "test/reliability/properties.test.ts", title: "never throws, for any bytes, base64 flag, content type, method and signature; nothing runs without a 200" },
    ],
    figure: (x) => `${n(f(x, "properties", "header property runs") + f(x, "properties", "body property runs"))} generated inputs`,
  },
  {
    id: "G3",
    statement: "The signature covers the exact bytes: any one byte changed is refused, and genuine Unicode content is accepted whether or not the transport base64-encodes it.",
    proof: [
      { file: "test/reliability/properties.test.ts", title: "refuses a genuine delivery with any one byte changed" },
      { file: "test/reliability/properties.test.ts", title: "accepts a genuine delivery of any Unicode content byte for byte, base64-encoded by the transport or not" },
      { file: "test/reliability/signature-parsing.test.ts", title: "the signature covers the exact bytes" },
    ],
    figure: (x) => `${n(f(x, "properties", "one-byte change property runs"))} one-byte changes, ${n(f(x, "properties", "unicode round-trip property runs"))} Unicode round trips`,
  },
  {
    id: "G4",
    statement: "A signature stamped ahead of time cannot be stretched: the future-skew check reads the timestamp stripe verified.",
    proof: [{ file: "test/reliability/signature-parsing.test.ts", title: "the future-skew check reads the timestamp stripe verified" }],
    figure: () => "5 header shapes, plus the bad-input case with a prepended fresh t=",
  },
  {
    id: "G5",
    statement: "16 concurrent deliveries of one event run its handler exactly once; the others answer 200 (duplicate) or 409 (in progress).",
    proof: [{ file: "test/reliability/concurrency.test.ts", title: "16 concurrent deliveries of one event run its handler exactly once; the others answer 200 or 409" }],
    figure: (x) =>
      `${n(f(x, "concurrency", "same-event deliveries"))} deliveries of ${n(f(x, "concurrency", "same-event handler runs"))} events: ` +
      `${n(f(x, "concurrency", "same-event handler runs"))} handler runs, ${n(f(x, "concurrency", "same-event 409 in_progress"))} answered 409, ` +
      `${n(f(x, "concurrency", "same-event 200 duplicate"))} answered 200 duplicate`,
  },
  {
    id: "G6",
    statement: "1,000 deliveries over 300 events, 16 at once, with random duplicates and 409s retried: every event's handler runs exactly once.",
    proof: [{ file: "test/reliability/concurrency.test.ts", title: "1,000 deliveries over 300 events, 16 at once, random duplicates, 409s retried: each event processed exactly once" }],
    figure: (x) =>
      `${n(f(x, "concurrency", "mixed deliveries"))} deliveries (${n(f(x, "concurrency", "mixed scheduled duplicates"))} scheduled duplicates, ` +
      `${n(f(x, "concurrency", "mixed 409 retries"))} retries of 409s) of ${n(f(x, "concurrency", "mixed events"))} events: ` +
      `${n(f(x, "concurrency", "mixed handler runs"))} handler runs`,
  },
  {
    id: "G7",
    statement: "DynamoDB unreachable, throttled, slower than the timeout or stopped mid-burst: 5xx while it lasts, nothing recorded processed that did not run, and after recovery with Stripe-style retries every event is processed, never by two runs at once nor again after its result was recorded.",
    proof: [
      { file: "test/reliability/faults.test.ts", title: "DynamoDB unreachable: 500 ledger_unavailable, nothing runs or is written; processed once when it is back" },
      { file: "test/reliability/faults.test.ts", title: "DynamoDB throttling (ProvisionedThroughputExceededException on 70% of requests): 5xx, and processed once after" },
      { file: "test/reliability/faults.test.ts", title: "DynamoDB slower than the function timeout: the timed-out claims hold the event (409) until their lease expires, then it is processed once" },
      { file: "test/reliability/faults.test.ts", title: "DynamoDB stopped in the middle of a burst and restarted: 5xx meanwhile, every event processed after" },
    ],
    figure: (x) =>
      ["unreachable", "throttled", "slow past the timeout", "stopped mid-burst"]
        .map((label) => `${label}: ${n(f(x, "faults", `${label}: deliveries`))} deliveries, ${n(f(x, "faults", `${label}: 5xx during the fault`))} 5xx`)
        .join("; "),
  },
  {
    id: "G8",
    statement: "A handler that throws leaves the event `failed` (500); Stripe's retry runs it once more and it succeeds.",
    proof: [{ file: "test/reliability/faults.test.ts", title: "a handler that throws: 500 handler_failed, recorded failed; the retry runs it once more and it succeeds" }],
    figure: (x) => `${n(f(x, "faults", "handler failures injected"))} failures, each run exactly twice and recorded once`,
  },
  {
    id: "G9",
    statement: "An invocation that dies between claim and completion blocks its event with 409 until the 60 s lease expires; then the event is processed once.",
    proof: [{ file: "test/reliability/faults.test.ts", title: "an invocation that dies between claim and completion: retries get 409 until the lease expires, then it is processed once" }],
    figure: (x) => `${n(f(x, "faults", "crashes injected"))} crashes, ${n(f(x, "faults", "crash: 409 inside the lease"))} retries refused inside the lease`,
  },
  {
    id: "G10",
    statement: "Secret rotation loses nothing: with old and new secrets configured, old-only, new-only and dual-v1 deliveries pass; a third secret never does.",
    proof: [
      { file: "test/reliability/bad-input.test.ts", title: "rejects no genuine delivery across a roll, and accepts no third secret at any step" },
      { file: "test/reliability/bad-input.test.ts", title: "during a rotation accepts the old secret alone, the new one alone and both, and never a third" },
    ],
    figure: (x) =>
      `${n(f(x, "bad-input", "rotation genuine accepted"))} genuine deliveries accepted, ${n(f(x, "bad-input", "rotation genuine rejected"))} rejected; ` +
      `${n(f(x, "bad-input", "rotation third-secret refused"))} third-secret deliveries refused, ${n(f(x, "bad-input", "rotation forged accepted"))} accepted`,
  },
  {
    id: "G11",
    statement: "No signing secret, Stripe-Signature value or payload field reaches a log line or an answer (handler Powertools logs, npm start's output, every response).",
    proof: webhookSuites.map((suite) => ({ file: `test/reliability/${suite}.test.ts`, title: "finds no secret, Stripe-Signature value or planted payload marker in any answer or log line" })),
    figure: (x) => `${n(sum(x, "log bytes scanned"))} characters of logs and answers scanned for ${n(sum(x, "needles"))} secrets, signatures and planted markers: ${n(sum(x, "leaks"))} found`,
  },
  {
    id: "G12",
    statement:
      "The functions' roles may use only the DynamoDB actions the ledger performs, on the ledger table only, and in a queued stage only send to the queue; the stage's outputs hold no secret.",
    proof: [
      { file: "test/infra/synth.test.ts", title: "grants the handler only the DynamoDB actions the ledger performs, on the ledger table only, besides sending to its queue" },
      { file: "test/infra/synth.test.ts", title: "may only do to the ledger table what the ledger does, and send to the queue, as the webhook function" },
      { file: "packages/core/test/ledger.test.ts", title: "uses only the actions infra grants the handler (ledgerHandlerActions)" },
      { file: "test/infra/synth.test.ts", title: "returns the webhook URL, table name, endpoint id and queue URLs, and no secret" },
    ],
    figure: () =>
      `${ledgerHandlerActions.map((action) => `\`${action}\``).join(", ")} on the table's ARN, \`sqs:SendMessage\` on the queue; ` +
      "outputs `webhookUrl`, `table`, `stripeEndpointId`, `queue`, `deadLetterQueue`",
  },
  {
    id: "G13",
    statement:
      "No event is lost outside Stripe's retry window: the reconciler processes, once, every catalog event Stripe lists that the ledger has not settled (a handler down for days, Stripe giving up, a 2xx from a wrong origin), while racing webhook deliveries.",
    proof: [
      { file: "packages/core/test/reconcile.test.ts", title: "processes every event exactly once through the reconciler, loses none, and leaves events inside the grace period alone" },
      { file: "packages/core/test/reconcile.test.ts", title: "1,000 events, duplicated, shuffled, concurrent deliveries and overlapping runs: each side effect once, none lost" },
      { file: "packages/core/test/reconcile.test.ts", title: "the sweep recovers them and skips the ones the webhook did process" },
    ],
    figure: (x) =>
      `${n(f(x, "reconciler", "outage events"))} events of a 4-day outage and ${n(f(x, "reconciler", "race events"))} racing ${n(f(x, "reconciler", "race deliveries"))} deliveries: ` +
      `${n(f(x, "reconciler", "events lost"))} lost, ${n(f(x, "reconciler", "double-processed"))} doubled`,
  },
  {
    id: "G14",
    statement:
      "A handler's staged DynamoDB effects land exactly once: committed in one transaction with the fenced completion, so a crash at any point, a lost lease or a failed condition writes all or nothing.",
    proof: [
      { file: "packages/core/test/effects.test.ts", title: "dying $name (transactions only): the effects apply exactly once after the retries, and Stripe refunds once" },
      { file: "packages/core/test/effects.test.ts", title: "writes nothing when the claim was lost: the lease ran out and another delivery took the event over" },
      { file: "packages/core/test/effects.test.ts", title: "writes nothing and records the event failed when an effect's condition does not hold; the retry commits once" },
    ],
    figure: () => "3 crash points on DynamoDB Local (in the handler, before the commit, after it); each effect applied once",
  },
];

function readFigures(): Figures {
  const figures = {} as Figures;
  for (const suite of suites) {
    const path = join(figuresDir, `${suite}.json`);
    if (!existsSync(path)) throw new Error(`${path} is missing: run the suites first (npm run reliability)`);
    figures[suite] = JSON.parse(readFileSync(path, "utf8")) as SuiteFigures;
  }
  const times = suites.map((suite) => Date.parse(figures[suite].finishedAt));
  if (Math.max(...times) - Math.min(...times) > 30 * 60_000) {
    throw new Error("the figures come from runs more than 30 minutes apart: run `npm run reliability` again");
  }
  for (const suite of ["bad-input", "concurrency", "faults", "reconciler"] as const) {
    if (!figures[suite].engines.includes("DynamoDB Local")) {
      throw new Error(`${suite} did not run on DynamoDB Local: run with Java 17 and REQUIRE_DYNAMODB_LOCAL=1 (npm run reliability does)`);
    }
  }
  return figures;
}

/** One finding of the adversarial run against the receiver and the tools (issue 18), what it gets now, and its test. */
export interface HardeningCase {
  finding: string;
  now: string;
  proof: { file: string; title: string };
}

export const hardeningCases: HardeningCase[] = [
  {
    finding: "A signed envelope whose id is `reconciler#local`, `app#entitlement#cus_x`, `not-an-event-id` or 3,000 characters, without `api_version`, with `created: 1e20`, or with a 100,000-character type",
    now: "400 `malformed_event`, nothing written, no handler run, one WARN line with the value cut short (both engines)",
    proof: { file: "packages/core/test/webhook.test.ts", title: "answer 400 malformed_event for %s: nothing written, no handler run, one WARN line" },
  },
  {
    finding: "A request DynamoDB rejects as invalid (`ValidationException`)",
    now: "500 `ledger_rejected`, \"a fault in this endpoint's code\", logged at ERROR with the DynamoDB operation; not \"retry later\"",
    proof: { file: "packages/core/test/webhook.test.ts", title: "answers 500 ledger_rejected, not retry later, and logs an ERROR naming the DynamoDB operation" },
  },
  {
    finding: "A signed body that is empty, gzip bytes, or not UTF-8",
    now: "400 `unreadable_body` naming the cause, not a signature mismatch",
    proof: { file: "packages/core/test/verify.test.ts", title: "bytes that are not UTF-8, even signed over exactly those bytes" },
  },
  {
    finding: "`npm run events -- --summary` after an event of type `__proto__`",
    now: "`__proto__`, `constructor` and `toString` each counted on their own row (both engines)",
    proof: { file: "packages/scripts/test/events.e2e.test.ts", title: "--summary counts __proto__, constructor and toString like any other type, and none inherits another's counts" },
  },
  {
    finding: "Ctrl-C in a terminal (SIGINT to the whole process group) during a burst",
    now: "every accepted request answered, the ledger flushed, nothing left `processing`; tried three times in a row",
    proof: { file: "packages/scripts/test/shutdown.e2e.test.ts", title: "answers every accepted request, flushes the ledger and leaves nothing processing, three times over" },
  },
  {
    finding: "A second Ctrl-C",
    now: "what is in flight is cut off with one line naming it; exit 130",
    proof: { file: "packages/scripts/test/shutdown.e2e.test.ts", title: "a second Ctrl+C cuts off what is still in flight, says so in one line, and exits 130" },
  },
  {
    finding: "A damaged data directory (CURRENT deleted, a truncated log, an empty MANIFEST)",
    now: "refused at start in one line naming the directory and what to do, files untouched; an undamaged copy starts with every acknowledged event",
    proof: { file: "packages/scripts/test/data-dir.e2e.test.ts", title: "an undamaged copy starts and holds every acknowledged event" },
  },
  {
    finding: "kill -9 of the receiver",
    now: "everything acknowledged kept; the next start is normal",
    proof: { file: "packages/scripts/test/data-dir.e2e.test.ts", title: "keeps everything it acknowledged, and the next one starts normally" },
  },
  {
    finding: "Two `npm start` on one data directory at the same moment",
    now: "one runs; the other ends with the one-line \"another receiver is using ...\"",
    proof: { file: "packages/scripts/test/data-dir.e2e.test.ts", title: "of two receivers started at the same moment on one data directory, one runs and the other says so in one line" },
  },
  {
    finding: "A stale `receiver.json` whose pid now belongs to another program",
    now: "ignored by `npm start` and by the tools",
    proof: { file: "packages/scripts/test/data-dir.e2e.test.ts", title: "a receiver.json whose pid now belongs to another program is ignored by npm start and by the tools" },
  },
  {
    finding: "`npm run reconcile` with Stripe unreachable",
    now: "names the host (the API base URL) and the cause, never \"back off\", never the key",
    proof: { file: "packages/scripts/test/reconcile.e2e.test.ts", title: "Stripe unreachable (connection refused, a name that does not resolve): the result names the host and the cause, never a back-off" },
  },
  {
    finding: "`STRIPE_WEBHOOK_SECRET=whsec_abc` and other malformed secrets",
    now: "the actual rule and what breaks it, no part of the value echoed",
    proof: { file: "packages/scripts/test/secrets.test.ts", title: "never echoes a whole malformed value (it may be a live API key)" },
  },
  {
    finding: "`npm run trigger -- checkout.session.complete` (a typo)",
    now: "exit 2 with the closest catalog type; nothing sent",
    proof: { file: "packages/scripts/test/trigger.e2e.test.ts", title: "a mistyped type exits 2 with the closest catalog type, and sends nothing" },
  },
  {
    finding: "`npm run trigger -- --list`",
    now: "marks which types are in the catalog",
    proof: { file: "packages/scripts/test/trigger.e2e.test.ts", title: "--list marks which types are in the catalog and which are not" },
  },
  {
    finding: "`npm run events` after thousands of events",
    now: "the newest 50, with how many more exist and how to see them",
    proof: { file: "packages/scripts/test/events.e2e.test.ts", title: "the table shows the newest 50, says how many more there are and how to see them" },
  },
  {
    finding: "An entry whose lease expired",
    now: "`processing (lease expired)`, distinct from one in flight",
    proof: { file: "packages/scripts/test/events.e2e.test.ts", title: "an entry whose lease expired reads differently from one in flight" },
  },
  {
    finding: "Ids or types holding U+202E, NUL or other controls",
    now: "escaped in every table",
    proof: { file: "packages/scripts/test/events.e2e.test.ts", title: "ids and types holding control characters are printed escaped, never raw" },
  },
  {
    finding: "A POST off the webhook path (`/`, `/nope`)",
    now: "404, nothing written, as the stage's router",
    proof: { file: "packages/scripts/test/shutdown.e2e.test.ts", title: "answers 404 off the webhook path, as the stage's router does, and writes nothing" },
  },
  {
    finding: "`npm start -- --help`",
    now: "documents `STRIPE_API_KEY` and the Stripe CLI loop",
    proof: { file: "packages/scripts/test/shutdown.e2e.test.ts", title: "npm start -- --help documents the Stripe CLI loop and its variables" },
  },
];

export function render(x: Figures): string {
  const deliveries =
    f(x, "bad-input", "requests") +
    f(x, "properties", "property inputs") +
    f(x, "concurrency", "same-event deliveries") +
    f(x, "concurrency", "mixed deliveries") +
    f(x, "faults", "deliveries");
  const duplicates =
    f(x, "concurrency", "mixed scheduled duplicates") +
    f(x, "concurrency", "same-event deliveries") -
    f(x, "concurrency", "same-event handler runs") +
    f(x, "faults", "scheduled duplicates");
  const lost = f(x, "concurrency", "events lost") + f(x, "faults", "events lost") + f(x, "reconciler", "events lost");
  const double = f(x, "concurrency", "double-processed") + f(x, "faults", "double-processed") + f(x, "reconciler", "double-processed");
  const reruns = f(x, "faults", "re-runs after a lost completion write");
  const unconfirmed = f(x, "faults", "handler ran but the answer was 5xx");
  const engines = [...new Set(suites.flatMap((suite) => x[suite].engines))].join(" and ");
  const lines: string[] = [];
  const push = (...text: string[]) => lines.push(...text);

  push(
    "# Reliability and security",
    "",
    "<!-- Generated by `npm run reliability` (test/reliability/report.ts) from the figures the suites write to .data/reliability/. Do not edit by hand. -->",
    "",
    "What the webhook receiver guarantees, the test in `npm test` that proves each guarantee, and how hard it was tried.",
    `Figures of the run that generated this file (${x.faults.finishedAt.slice(0, 10)}, on ${engines}); most are fixed by the`,
    "suites' design, the retry and fault counts vary a little from run to run with timing.",
    "",
    "## Figures",
    "",
    "| | |",
    "| --- | --- |",
    `| Bad-input cases tried | ${badInputCases.length} distinct, each over HTTP (\`npm start\`) and direct on both engines where the transport allows: ${n(f(x, "bad-input", "refusals") + f(x, "bad-input", "controls accepted"))} runs |`,
    `| Property-based inputs | ${n(f(x, "properties", "property inputs"))} (fast-check) |`,
    `| Deliveries sent | ${n(deliveries)} |`,
    `| Duplicate deliveries | ${n(duplicates)} |`,
    `| Faults injected | ${n(f(x, "faults", "faults injected"))} (refused or cut DynamoDB requests and calls, throttled requests, requests held past the timeout, handler failures, crashes) |`,
    `| Events the webhook never delivered, recovered by the reconciler | ${n(f(x, "reconciler", "outage events") + f(x, "reconciler", "race events recovered by the reconciler"))} (a handler down past Stripe's retry window; ${n(f(x, "reconciler", "race events"))} events racing ${n(f(x, "reconciler", "race deliveries"))} deliveries and reconciler runs) |`,
    `| Events lost | **${lost}** |`,
    `| Double-processed (two runs at once, or a run after the result was recorded) | **${double}** |`,
    `| Re-runs after a lost completion write (see [the at-least-once window](#the-at-least-once-window)) | ${reruns} (of ${unconfirmed} handler runs whose completion was not confirmed) |`,
    `| Secrets, signatures or payload markers found in logs and answers | **${sum(x, "leaks")}** in ${n(sum(x, "log bytes scanned"))} characters |`,
    "",
    "## Guarantees",
    "",
    "| | Guarantee | Proved by | Tried |",
    "| --- | --- | --- | --- |",
  );
  for (const guarantee of guarantees) {
    const proofs = guarantee.proof.map((proof) => `\`${proof.file.replace("test/reliability/", "")}\`: ${proof.title}`).join("<br>");
    push(`| ${guarantee.id} | ${guarantee.statement} | ${proofs} | ${guarantee.figure(x)} |`);
  }
  push(
    "",
    "Shared machinery: `support/harness.ts` runs the pipeline as the composition root builds it for the deployed entry (Powertools",
    "logger, real ledger, the stage's config), each invocation in a sandbox that can time out or die, under a clock the test",
    "moves forward past leases; a side effect is a handler run that returned. `support/proxy.ts` is an HTTP proxy on",
    "127.0.0.1 in front of the engine that stops (connections refused, in-flight ones cut), throttles with DynamoDB's own",
    "`ProvisionedThroughputExceededException` (the SDK retries it) or holds requests. `support/leaks.ts` collects every log",
    "line and answer. The HTTP cases run the real `npm start` (in memory, random port) through the scripts package's e2e helper.",
    "",
    "## Bad input",
    "",
    "Each refusal: the expected status and code, the ledger unchanged (a full scan before and after), no handler run",
    "(the example handlers' log lines over HTTP, a spy on the registry direct), nothing sensitive in the answer or the",
    "logs it caused. Cases marked *direct* change the function URL event itself, which no HTTP client can do.",
    "",
    "| Status | Code | Case |",
    "| --- | --- | --- |",
  );
  for (const testCase of badInputCases) {
    push(`| ${testCase.status} | \`${testCase.code}\` | ${testCase.name}${testCase.lambdaEvent ? " (*direct*)" : ""} |`);
  }
  push(
    "",
    "## Hardening: the adversarial run",
    "",
    "What a run against `npm start` and the local tools, first as a new user and then as an attacker, found, what each",
    "now gets, and the test in `npm test` that proves it.",
    "",
    "| Found | Now | Proved by |",
    "| --- | --- | --- |",
  );
  for (const hardening of hardeningCases) {
    push(`| ${hardening.finding} | ${hardening.now} | \`${hardening.proof.file}\`: ${hardening.proof.title} |`);
  }
  push(
    "",
    "## The at-least-once window",
    "",
    "The ledger is written before and after the handler: a claim (with a 60 s lease), then the result. When the",
    "handler's effect happened but the result write fails (DynamoDB throttles every retry of that one write, or is",
    "unreachable at that moment, or the invocation dies right after the handler returned), the answer is 5xx and the event",
    "stays `processing`; once the lease expires, Stripe's next retry runs the handler again. The fault suites count",
    `this: ${reruns} re-runs, each only after the lease expired and only where the first run's completion was not`,
    "confirmed (the suites assert both). Some completions that looked lost had landed anyway (the write reached DynamoDB,",
    "the answer did not come back): those events answered `duplicate` on the retry and ran once.",
    "",
    "For a handler's **DynamoDB effects the window is closed**: staged with `context.effects`, they are committed in the",
    "same `TransactWriteItems` as the completion, conditioned on the claim still being this run's (G14). A run that dies",
    "before the commit wrote nothing, and its retry commits once; a run that dies after it left the event processed, and",
    "its retry answers `duplicate`. (On dynalite, which has no transactions, the local receiver writes staged effects one",
    "by one, and there the window stays open: a test shows it.)",
    "",
    "For **external effects** (a Stripe call, an e-mail) the window stays open, as it does for Powertools' idempotency",
    "utility (an `INPROGRESS` record left by a timed-out invocation expires and the work runs again). Make such calls",
    "idempotent: pass `context.idempotencyKey(purpose)` to Stripe, the same on every redelivery, reconciler run and",
    "replay, so Stripe performs the call once within its 24-hour key window; elsewhere key the effect by `event.id`.",
    "",
    "## Secret rotation",
    "",
    "Five steps of a roll, each a deploy with the stage's secret value: before the roll (`old`), rolled in Stripe but not",
    "yet deployed (Stripe signs with both; the stage holds `old`), deployed with `new,old` (dual, old-only and new-only",
    "headers), old expired in Stripe (`new` only), old removed from the stage. At every step three deliveries of each",
    "genuine kind and of each forged kind (a third secret; after the removal, the retired secret).",
    `Valid deliveries rejected across the rotation: **${f(x, "bad-input", "rotation genuine rejected")}**. Third-secret deliveries accepted: **${f(x, "bad-input", "rotation forged accepted")}**.`,
    "",
    "## Security review",
    "",
    "- **IAM least privilege** (G12): the webhook function and the reconciler link a `Ledger` linkable granting only",
    `  ${ledgerHandlerActions.map((action) => `\`${action}\``).join(", ")} on the table (\`infra/table.ts\`; Put, Delete`,
    "  and ConditionCheck are what IAM checks for handlers' staged effects in a transaction); the synth test asserts both",
    "  roles' policies and a ledger test holds the code to `ledgerHandlerActions`. The synth test also holds the stage's",
    "  outputs to their names and no secret.",
    "- **Logs and answers**: each reliability suite captures all of its output (the handler's Powertools JSON lines from",
    "  stdout/stderr, `npm start`'s stdout and stderr after its ready line, every answer's status, headers and body) and",
    "  scans it for every signing secret (with and without `whsec_`), every signature sent, any header-shaped text and",
    "  marker strings planted in the payload fields of every event (description, metadata, customer email). The banner",
    "  of `npm start` prints the local development secret before the ready line on purpose and is not scanned.",
    "- **`npm audit --omit=dev`**: not run here. The registry reachable from this workplace answers the audit endpoint",
    "  (`POST /-/npm/v1/security/advisories/bulk`) with `405 Method Not Allowed` (`npm audit signatures` cannot reach its",
    "  endpoint either), so no finding could be retrieved, and none is justified here. The runtime tree is 73 packages",
    "  (`npm ls --omit=dev --all`): the deployed function's `stripe`, `@aws-sdk/client-dynamodb`, `@aws-lambda-powertools/logger`",
    "  and `sst` (for `Resource`), plus the local tools' `dynalite` and its LevelDB packages. Checked by hand, the one",
    "  with a past high-profile advisory in this tree, `jose` (CVE-2024-28176, JWE decompression): the installed 4.15.9",
    "  (under `sst`'s `openid-client`) caps decompression at 250 kB (the 4.15.5 fix) and 5.2.3 does not decompress JWE at",
    "  all; neither is on the webhook path. `.ci/run` runs `npm audit --omit=dev` after the tests: any high or critical",
    "  finding fails CI; where the endpoint does not answer (as here) it prints a loud warning instead of failing every run.",
    "",
    "## Bugs this suite found and fixed",
    "",
    "- `verify.ts`: the future-skew check read the *first* `t=` of the header while stripe verifies against the *last*, so",
    "  a fresh `t=` prepended to a signature stamped ahead of time passed both checks; and a non-numeric `t=` (signed as",
    "  `NaN.<body>`) passed stripe's age check. Now the check reads stripe's timestamp and refuses a non-number.",
    "- `verify.ts`: stripe decodes the body with a `TextDecoder` that drops a leading byte-order mark and replaces",
    "  invalid UTF-8, so a genuine delivery with a BOM prepended was accepted (different bytes, same signature). The body",
    "  is now decoded strictly, so the signature covers the exact bytes. And an empty `v1=` (stripe's compare throws a",
    "  plain `Error` on it) was answered `malformed_event`, i.e. logged as an authentic but unreadable body; every header",
    "  failure is now a signature failure.",
    "- `envelope.ts` (issue 18): a signed envelope could address any key of the ledger table. An id of `reconciler#local`",
    "  was answered 200 and left the reconciler's own state item claimed; `app#entitlement#...` wrote into the handlers'",
    "  effects; an id of 3,000 characters or a missing `api_version` made DynamoDB reject the request, answered 500",
    "  `ledger_unavailable` \"retry later\" (a retry storm for input that can never succeed); `created: 1e20` was a 500",
    "  RangeError. Every source (webhook, reconciler, replay) now checks the envelope before the ledger: 400",
    "  `malformed_event` with the field and its value cut short in one WARN line; the reconciler skips and counts such",
    "  an event instead of stopping on it. A request DynamoDB still rejects as invalid is `ledger_rejected`, logged as a",
    "  bug with the DynamoDB operation, never \"retry later\".",
    "- `verify.ts` (issue 18): an empty, compressed (`Content-Encoding`, or gzip's magic bytes) or non-UTF-8 body was",
    "  answered \"No signature matches this endpoint's signing secret\", sending the operator after the wrong secret.",
    "  Each is now 400 `unreadable_body` naming its cause, checked on the bytes before any secret is tried (nothing is",
    "  parsed before the signature is verified).",
    "",
    "## Regenerate",
    "",
    "```sh",
    "npm run reliability   # the suites with DynamoDB Local required, then test/reliability/report.ts",
    "```",
    "",
    "`npm test` runs the same suites (and writes the figures to the git-ignored `.data/reliability/`) but never this file.",
    "",
  );
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeFileSync(reportPath, render(readFigures()));
  console.log(`wrote ${reportPath}`);
}
