import type { BenchResults } from "./results.ts";
import { amount, number, renderMachine, renderTable, targets } from "./report.ts";

/*
 * BENCHMARKS.md: the table, how it was measured, and a reading generated from the numbers of
 * the same run (each sentence is computed, so it cannot go stale when the code changes).
 */

const method = `## What is measured, and how

- **Variants.** *ours*: \`packages/functions/src/webhook.ts\`. *floor*: \`bench/handlers/floor.ts\`, Stripe's
  signature scheme by hand with \`node:crypto\` (HMAC-SHA256, \`timingSafeEqual\`), \`JSON.parse\`, one
  conditional \`PutItem\` through a default \`DynamoDBClient\` (the bare SDK client, importing only that
  command: SigV4, retries and credentials are table stakes on Lambda). *naive*: \`bench/handlers/naive.ts\`,
  \`new Stripe(key).webhooks.constructEvent\` and the same put, no ledger states. *powertools*:
  \`bench/handlers/powertools.ts\`, naive plus \`makeIdempotent\` (keyed on the event id, DynamoDB persistence
  layer) and Logger. All read their links through \`sst/resource\`.
- **Build.** Every handler is bundled as SST bundles a Node function for deploy (the synth suite's
  \`Runtime.Build\` stand-in): esbuild, bundle, minify, ESM, platform node, \`mainFields: ["module", "main"]\`,
  the createRequire banner. The split row builds the same with \`splitting: true\` (SST's
  \`nodejs.splitting\`); "loaded at import" is the entry chunk plus every chunk it imports statically.
- **1, 6 Cold start.** A fresh \`node\` process per start imports the bundle and handles one new 2 KB
  event against dynalite on 127.0.0.1 (one instance, started by the bench), with the environment Lambda
  and SST give the function. Spawn → response is timed by the bench; import and first event inside
  the child. Each run starts every variant once, in an order rotated run by run; ratios are per run.
  Peak RSS is the child's \`maxRSS\` after its first answer.
- **3 Warm CPU.** One process per variant runs each event once against dynalite while recording what
  every DynamoDB command returned, then replays those results in measured rounds: a first middleware
  answers each command before it is serialized, so no request is built, signed, sent or parsed.
  \`process.cpuUsage()\` over a round ÷ its events. The four processes' rounds alternate, in rotating
  order; ratios are per round. Same bundles as deployed but for that middleware.
- **4 Requests.** A counting HTTP proxy in the handler's process in front of dynalite, one delivery at a
  time. dynalite ignores \`ReturnValuesOnConditionCheckFailure\`; DynamoDB and DynamoDB Local return the
  item with the failed condition, so the proxy adds it (reading it itself, uncounted). The figure in
  parentheses is plain dynalite.
- **5 Burst.** \`npm start\` always loads the real handler, so \`bench/burst/server.ts\` builds the same
  receiver from \`packages/scripts\`' \`createReceiverServer\` (its HTTP handling, function URL mapping,
  Lambda context and timeout) around a chosen bundle, with an in-process in-memory dynalite as
  \`npm start --memory\` has. Same deliveries, same order, for both; each delivery signed when sent.
  Work that ran is counted from the handlers' JSON log lines naming an event (not the summary line).`;

function reading(results: BenchResults): string {
  const { cold, warm, requests, burst, bundles, splitBundles, oursComposition } = results;
  const met = targets(results);
  const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
  const ms = (value: number) => `${amount(value)} ms`;
  const us = (value: number) => `${amount(value)} µs`;
  const ratio = (value: number) => `${number(value, 2)}×`;
  const bytesOf = (name: string) => oursComposition.find((entry) => entry.name === name)?.bytes ?? 0;
  const sdkBytes = oursComposition
    .filter((entry) => entry.name.startsWith("@aws-sdk/") || entry.name.startsWith("@smithy/"))
    .reduce((sum, entry) => sum + entry.bytes, 0);
  const stripeBytes = bytesOf("stripe");
  const loggerBytes = bytesOf("@aws-lambda-powertools/logger") + bytesOf("@aws-lambda-powertools/commons");
  const bundleRatio = bundles.ours.bytes / bundles.powertools.bytes;
  const withoutStripe = bundles.ours.bytes - stripeBytes;
  const unit = warm.unitCosts;
  const small = warm.cpuMicrosPerEvent.small;
  const large = warm.cpuMicrosPerEvent.large;
  const commands = warm.commandsPerEvent.small;
  const ranTwice = met.ranMoreThanOnce;

  const lines = [
    `1. **Cold start** — ${verdict(met.coldStart)}: ours answers its first event ${ms(cold.totalMs.ours.median)} after spawn,`,
    `   ${ratio(cold.totalToFloor.ours.median)} the floor's ${ms(cold.totalMs.floor.median)} (naive ${ratio(cold.totalToFloor.naive.median)}, powertools`,
    `   ${ratio(cold.totalToFloor.powertools.median)}). Import: ours ${ms(cold.importMs.ours.median)}, floor ${ms(cold.importMs.floor.median)}. Alone,`,
    `   the DynamoDB client imports in ${ms(cold.probeImportMs.dynamodb.median)}, \`stripe\` in ${ms(cold.probeImportMs.stripe.median)} and Logger in`,
    `   ${ms(cold.probeImportMs.logger.median)}; together they overlap (Node's http, https and crypto load once)${
      cold.totalToFloor.naive.median < 1.5 ? ", which is why the naive handler is far from twice the floor here" : ""
    }. The first event: ours ${ms(cold.firstEventMs.ours.median)}, floor`,
    `   ${ms(cold.firstEventMs.floor.median)} (${requests.ours.likeDynamoDb.newEvent[0] ?? "?"} DynamoDB requests against ${requests.floor.likeDynamoDb.newEvent[0] ?? "?"}, and the first log lines).`,
    `2. **Bundle** — ${verdict(met.bundle)}: ours is ${number(bundles.ours.bytes, 0)} bytes, ${ratio(bundleRatio)} powertools (target`,
    `   under 0.5×). Of it, \`stripe\` is ${number(stripeBytes, 0)} (ours uses only its webhook signature check), the AWS SDK`,
    `   ${number(sdkBytes, 0)}, Logger ${number(loggerBytes, 0)}, our own code ${number(bytesOf("packages/core/src") + bytesOf("packages/functions/src"), 0)}.`,
    `   The SDK alone is ${ratio(bundles.floor.bytes / bundles.powertools.bytes)} powertools (the floor)${
      bundles.floor.bytes / bundles.powertools.bytes >= 0.5 ? ", so no handler on this SDK client can meet the target built this way" : ""
    }; without \`stripe\` ours would be about ${number(withoutStripe, 0)}`,
    `   (${ratio(withoutStripe / bundles.powertools.bytes)}). With SST's \`nodejs.splitting\`, the SDK's other credential providers move to`,
    `   chunks a Lambda with credentials in its environment never loads: ours then loads`,
    `   ${number(splitBundles.ours.loadedBytes, 0)} bytes at import, ${ratio(splitBundles.ours.loadedBytes / splitBundles.powertools.loadedBytes)} powertools built the same way, and`,
    `   without \`stripe\` too about ${number(splitBundles.ours.loadedBytes - stripeBytes, 0)} (${ratio(
      (splitBundles.ours.loadedBytes - stripeBytes) / splitBundles.powertools.loadedBytes,
    )}).`,
    `3. **Warm CPU** — small ${verdict(met.warmSmall)}, large ${verdict(met.warmLarge)}: ours ${us(small.ours.median)} per`,
    `   ${number(warm.payloadBytes.small / 1024, 1)} KiB event, ${ratio(warm.toFloor.small.ours.median)} the floor's ${us(small.floor.median)}; ${us(large.ours.median)} per`,
    `   ${number(warm.payloadBytes.large / 1024, 1)} KiB event, ${ratio(warm.toFloor.large.ours.median)} (target ≤ 1.3×). Unit costs of this run explain`,
    `   most of the difference: ours sends ${number(commands.ours, 0)} DynamoDB commands per new event where the floor sends ${number(commands.floor, 0)}`,
    `   (ours caches the client's middleware, \`cacheMiddleware: true\`: ${us(unit.sdkSendCached)} per send before serializing, against`,
    `   ${us(unit.sdkSendDefault)} for the floor's default client); one Logger line costs`,
    `   ${us(unit.loggerLine)} and ours writes two (the handler's and the summary, both required), the floor none; stripe's \`constructEvent\` costs`,
    `   ${us(unit.stripeVerifySmall)} on the small event and ${us(unit.stripeVerifyLarge)} on the large one, against ${us(unit.handVerifySmall)} and`,
    `   ${us(unit.handVerifyLarge)} by hand with node:crypto. Naive and powertools: ${ratio(warm.toFloor.small.naive.median)} and`,
    `   ${ratio(warm.toFloor.small.powertools.median)} on the small event.`,
    `4. **DynamoDB requests** — new ${verdict(met.requestsNew)}, duplicate ${verdict(met.requestsDuplicate)}: ours makes`,
    `   ${requests.ours.likeDynamoDb.newEvent[0] ?? "?"} per new event (claim, then result) and ${requests.ours.likeDynamoDb.duplicate[0] ?? "?"} per duplicate where the`,
    `   engine returns the item with the failed condition (${requests.ours.plainDynalite.duplicate[0] ?? "?"} on plain dynalite, which needs a read);`,
    `   powertools ${requests.powertools.likeDynamoDb.newEvent[0] ?? "?"} and ${requests.powertools.likeDynamoDb.duplicate[0] ?? "?"}, floor and naive 1 and 1 (no states).`,
    `5. **Burst** — ours ${amount(burst.deliveriesPerSecond.ours.median)} deliveries/s, ${ratio(burst.oursToPowertools.median)} powertools`,
    `   (${amount(burst.deliveriesPerSecond.powertools.median)}/s), pair by pair over ${burst.runs.ours.length} bursts. Each handler shares one thread with`,
    `   the receiver and dynalite, whose request handling takes most of it${
      Math.abs(burst.oursToPowertools.median - 1) < 0.1 ? ", so the two come out about even" : ""
    }. Work that ran more than once: ours ${ranTwice.ours} (${verdict(ranTwice.ours === 0)}: 0), powertools ${ranTwice.powertools}.`,
    `6. **Peak RSS** — cold, after the first event: ours ${amount(cold.maxRssMiB.ours.median)} MiB, floor`,
    `   ${amount(cold.maxRssMiB.floor.median)}, powertools ${amount(cold.maxRssMiB.powertools.median)}; after the warm rounds (50 KB events held in memory`,
    `   by the harness): ours ${amount(warm.maxRssMiB.ours)} MiB, floor ${amount(warm.maxRssMiB.floor)}.`,
  ];
  return lines.join("\n");
}

export function renderBenchmarksFile(results: BenchResults): string {
  return [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (about two minutes on two cores). Lambda runs Node 24; this machine:",
    "",
    renderMachine(results),
    "",
    "Median (p25–p75) over repeated runs; every ratio is the median of ratios taken run by run, ours and",
    "the baseline measured back to back in the same run.",
    "",
    renderTable(results),
    "",
    "## Reading",
    "",
    reading(results),
    "",
    method,
    "",
  ].join("\n");
}
