import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { dynamoDbLocalRequired } from "@stripe-webhooks/testing/engines";
import { measurements, type BenchResults } from "../../bench/measurements.ts";

/*
 * Keeps `npm run bench` from rotting: runs it with tiny counts (BENCH_SMOKE=1) and checks that
 * every measurement produced its rows and results and that the correctness figures hold. Nothing
 * here looks at speed; timings never gate a test.
 */

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const benchmarksFile = join(repoRoot, "BENCHMARKS.md");
const scratch = mkdtempSync(join(tmpdir(), "bench-smoke-"));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("npm run bench (smoke)", () => {
  it("runs every measurement and leaves BENCHMARKS.md alone", { timeout: 200_000 }, async () => {
    const before = existsSync(benchmarksFile) ? readFileSync(benchmarksFile, "utf8") : undefined;
    const resultsFile = join(scratch, "results.json");
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "bench/run.ts"], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_SMOKE: "1", BENCH_RESULTS: resultsFile },
      timeout: 190_000,
      maxBuffer: 16 * 1024 * 1024,
    });

    // A row with a figure for each of the table's sections, cold start to the reconciler.
    for (const section of ["1", "2", "3", "4", "5", "6", "7", "8"]) {
      expect(stdout, `section ${section}`).toMatch(new RegExp(`^\\| ${section} \\| [^|]+ \\| [^|]*\\d`, "m"));
    }
    const results = JSON.parse(readFileSync(resultsFile, "utf8")) as BenchResults;
    expect(Object.keys(results.measurements).sort()).toEqual(measurements.map((m) => m.name).sort());

    const ours = results.measurements.requests?.ours.likeDynamoDb;
    expect(ours?.newEvent.length).toBeGreaterThan(0);
    expect(new Set(ours?.newEvent)).toEqual(new Set([2]));
    expect(new Set(ours?.duplicate)).toEqual(new Set([1]));
    expect(new Set(ours?.statusCodes)).toEqual(new Set([200]));

    // The replayed runs took the path the live ones did: the handler's commands, every event.
    const warm = results.measurements.warm;
    expect(warm?.commandsPerEvent.small.ours).toBe(2);
    expect(warm?.commandsPerEvent.small.floor).toBe(1);

    const burst = results.measurements.burst;
    expect(burst?.runs.ours.length).toBeGreaterThan(0);
    for (const run of [...(burst?.runs.ours ?? []), ...(burst?.runs.powertools ?? [])]) {
      expect(run.ranMoreThanOnce).toBe(0);
      // Every event's work ran once: also proves the log-based counting still finds it.
      expect(run.neverRan).toBe(0);
      expect(run.ranOnce).toBe(burst?.distinct);
    }
    // The reconciler's run recovered its whole backlog (it throws otherwise) through the API double.
    const reconcile = results.measurements.reconcile;
    expect(reconcile?.apiRequestsPerRun).toBeGreaterThan(0);
    expect(reconcile?.eventsPerSecond.median).toBeGreaterThan(0);

    // The renewal burst, queued: every event processed once, its customer's entitlement equal to
    // the API's, no 5xx answer, nothing failed by a rate limit, one fetch per subscription at most
    // (the later events of a customer find the state fetched after they were created).
    const renewal = results.measurements.renewal;
    expect(renewal?.limits.length).toBe(2);
    for (const limit of renewal?.limits ?? []) {
      expect(limit.runs.queued.length).toBeGreaterThan(0);
      for (const run of limit.runs.queued) {
        expect(run.processed).toBe(run.events);
        expect(run.processedTwice).toBe(0);
        expect(run.entitlementsEqualToApi).toBe(renewal?.customers);
        expect(run.answers5xx).toBe(0);
        expect(run.failedByRateLimit + run.deadLettered).toBe(0);
        expect(run.apiRequests - run.rateLimited).toBe(run.subscriptions);
        expect(run.perEvent.newEvent.sqsRequests).toBeGreaterThan(0);
        // The consumers run in a process of their own: their counts and times made it back.
        expect(run.dynamo.consumer.requests).toBeGreaterThanOrEqual(2 * run.events);
        expect(run.sqs.consumer.byOperation.DeleteMessageBatch).toBeGreaterThan(0);
        expect(run.consumerInvocations).toBeGreaterThan(0);
      }
      for (const run of [...limit.runs.queued, ...limit.runs.inline]) {
        // A share, not a percentage; it can be 0 when the answers take less than the kernel's
        // accounting tick (os.cpus() counts in ticks), so only its range is checked.
        expect(run.answeringCoresBusy).toBeGreaterThanOrEqual(0);
        expect(run.answeringCoresBusy).toBeLessThanOrEqual(1);
        expect(run.webhookCpuMsPerDelivery).toBeGreaterThan(0);
      }
      for (const run of limit.runs.inline) {
        expect(run.processedTwice).toBe(0);
        expect(run.sqs.new.requests + run.sqs.consumer.requests).toBe(0);
      }
    }

    // A staged effect commits with the completion: still 2 requests per new event, 1 per duplicate.
    // Off CI without Java the measurement says it did not run; CI requires DynamoDB Local.
    const effects = results.measurements.effects;
    if (dynamoDbLocalRequired() || effects?.notRun === null) {
      const staged = effects?.requests?.effect.likeDynamoDb;
      expect(effects?.notRun).toBeNull();
      expect(new Set(staged?.newEvent)).toEqual(new Set([2]));
      expect(new Set(staged?.duplicate)).toEqual(new Set([1]));
      expect(new Set(staged?.statusCodes)).toEqual(new Set([200]));
      expect(staged?.byOperation.TransactWriteItems).toBe(staged?.newEvent.length);
      expect(effects?.requests?.plain.likeDynamoDb.byOperation.TransactWriteItems).toBeUndefined();
    } else {
      console.warn(`\n!!! bench effects NOT RUN: ${effects?.notRun}\n`);
    }

    expect(existsSync(benchmarksFile) ? readFileSync(benchmarksFile, "utf8") : undefined).toBe(before);
  });
});
