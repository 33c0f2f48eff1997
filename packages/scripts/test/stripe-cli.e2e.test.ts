import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import { startStripeApiDouble, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { startStripeCliStandin, type StripeCliStandin } from "@stripe-webhooks/testing/stripe-cli-standin";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { processAlive } from "../src/data-dir.ts";
import { unreachableEndpoint } from "@stripe-webhooks/testing/engines";
import { runScript, startReceiver, tempDataDir, type Receiver } from "./helpers/processes.ts";

/*
 * The real Stripe CLI binary (the pinned @stripe/cli) run by the real `npm start` and
 * `npm run trigger -- --stripe`, talking to a stand-in for Stripe's servers (Stripe cannot be
 * reached from here or from CI) through the CLI's own --api-base flag, as STRIPE_CLI_API_BASE.
 * The receiver hands the same key to its handlers, which fetch subscriptions from Stripe's API:
 * that is the test kit's double of the API, as STRIPE_API_BASE.
 */

interface Entry {
  id: string;
  type: string;
  status: string;
  attempts: number;
}

const apiKey = `sk_test_${randomBytes(16).toString("hex")}`;
const wrongKey = `sk_test_${randomBytes(16).toString("hex")}`;
// The CLI writes its config (a machine id) on every run: into a temporary directory, not $HOME.
const cliConfig = tempDataDir();
let standin: StripeCliStandin;
let api: StripeApiDouble;

beforeAll(async () => {
  standin = await startStripeCliStandin({ apiKey });
  // The handlers' API is another server: it knows both keys, and the example objects' subscription.
  api = await startStripeApiDouble({ apiKeys: [apiKey, wrongKey] });
  const { data } = buildEvent("customer.subscription.created") as { data: { object: { id: string } } };
  api.setSubscription({ id: data.object.id });
});

afterAll(async () => {
  await standin?.close();
  await api?.close();
  cliConfig.remove();
});

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function cliEnv(key: string, apiBase = standin.url): Record<string, string> {
  return {
    STRIPE_API_KEY: key,
    STRIPE_CLI_API_BASE: apiBase,
    STRIPE_API_BASE: api.url,
    XDG_CONFIG_HOME: cliConfig.dir,
    // Telemetry and error reports would only try to reach Stripe.
    STRIPE_CLI_TELEMETRY_OPTOUT: "1",
  };
}

/** A receiver on its own data directory and a free port, killed after the test if still running. */
async function receiverWith(env: Record<string, string>): Promise<{ receiver: Receiver; env: Record<string, string> }> {
  const data = tempDataDir();
  const all = { ...env, DATA_DIR: data.dir };
  const receiver = await startReceiver({ ...all, PORT: "0" }, ["--memory"]);
  cleanups.push(() => {
    receiver.kill();
    data.remove();
  });
  return { receiver, env: all };
}

async function ledger(env: Record<string, string>): Promise<Entry[]> {
  const run = await runScript("events", ["--json"], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Entry[];
}

function expectNothingSecret(output: string): void {
  expect(output).not.toContain(apiKey);
  expect(output).not.toContain(wrongKey);
  expect(output).not.toContain(standin.secret);
  expect(output).not.toMatch(/t=\d+,v1=/);
}

/** Whether `pid` runs: a zombie (exited, not yet reaped by whoever adopted it) does not. */
function running(pid: number): boolean {
  if (!processAlive(pid)) return false;
  const shown = spawnSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" });
  return shown.status === 0 && !shown.stdout.trim().startsWith("Z");
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("npm start with STRIPE_API_KEY: the Stripe CLI as the local loop", () => {
  it("forwards events through the real stripe listen, each handled once, and stops the CLI with the receiver", { timeout: 90_000 }, async () => {
    const { receiver, env } = await receiverWith(cliEnv(apiKey));
    const output = receiver.output();
    const cliPid = Number(/stripe listen \(pid (\d+)\) forwards the catalog's test-mode events here/.exec(output)?.[1]);
    expect(cliPid).toBeGreaterThan(0);
    expect(output).toMatch(/^\[stripe\] Ready!/m);
    expect(output).toContain("npm run trigger -- --stripe");
    // One session for --print-secret, one for listen, which told Stripe where it forwards.
    expect(standin.sessions.map((session) => session.forwardToUrl)).toContain(receiver.url);
    expect(standin.sessions.every((session) => session.websocketFeatures.includes("webhooks"))).toBe(true);
    await standin.connected();

    const events = [
      buildEvent("checkout.session.completed"),
      buildEvent("customer.subscription.created"),
      buildEvent("invoice.paid"),
      buildEvent("invoice.payment_failed"),
    ];
    const answers: Array<{ id: string; status: number; result: unknown }> = [];
    // One at a time, so the redelivery (last) comes after its first delivery was handled.
    for (const event of [...events, events[2] ?? {}]) {
      const report = await standin.response(standin.send(event));
      answers.push({ id: report.eventId, status: report.status, result: JSON.parse(report.body).result });
    }
    expect(answers).toEqual([
      ...events.map((event) => ({ id: event.id, status: 200, result: "processed" })),
      { id: events[2]?.id, status: 200, result: "duplicate" },
    ]);
    expect(standin.acks()).toEqual(expect.arrayContaining(events.map((event) => event.id)));

    const entries = await ledger(env);
    for (const event of events) {
      const matching = entries.filter((entry) => entry.id === event.id);
      expect(matching).toEqual([expect.objectContaining({ type: event.type, status: "processed", attempts: 1 })]);
    }
    await receiver.waitFor(new RegExp(`POST /stripe/webhook 200 ${events[2]?.id} invoice.paid duplicate`), 5000);

    // The local secret is still trusted beside the CLI's.
    const local = await runScript("trigger", ["invoice.paid", "--json"], env);
    expect(local.code, local.stderr).toBe(0);

    const exit = await receiver.stop("SIGTERM");
    expect(exit.code).toBe(0);
    expect(processAlive(cliPid)).toBe(false);
    await standin.disconnected();
    expectNothingSecret(receiver.output());
  });

  it("stops, on the next start, the stripe listen a receiver killed outright left forwarding", { timeout: 90_000 }, async () => {
    // Prepare: a receiver with the CLI, killed so that it cannot stop its child.
    const data = tempDataDir();
    const env = { ...cliEnv(apiKey), DATA_DIR: data.dir, PORT: "0" };
    const killed = await startReceiver(env, ["--memory"]);
    cleanups.push(() => {
      killed.kill();
      data.remove();
    });
    const orphan = Number(/stripe listen \(pid (\d+)\) forwards/.exec(killed.output())?.[1]);
    expect(orphan).toBeGreaterThan(0);
    await killed.stop("SIGKILL");
    expect(running(orphan)).toBe(true);

    // Act
    const next = await startReceiver(env, ["--memory"]);
    cleanups.push(() => next.kill());

    // Assess: the orphan is stopped and named; the new receiver runs its own CLI.
    expect(next.output()).toContain(`stopped stripe listen (pid ${orphan}), left forwarding to ${killed.url} by a receiver that was killed`);
    await until(() => !running(orphan));
    const own = Number(/stripe listen \(pid (\d+)\) forwards/.exec(next.output())?.[1]);
    expect(own).toBeGreaterThan(0);
    expect(own).not.toBe(orphan);
    expect((await next.stop("SIGTERM")).code).toBe(0);
    expectNothingSecret(next.output());
  });

  it("with a key Stripe refuses: starts on its local secret and says why in one line", { timeout: 60_000 }, async () => {
    const refusedBefore = standin.unauthorized();
    const { receiver, env } = await receiverWith(cliEnv(wrongKey));
    const output = receiver.output();
    const why = output.split("\n").filter((line) => line.includes("not forwarding"));
    expect(why).toEqual([expect.stringMatching(/Stripe CLI\s+not forwarding: Stripe refused STRIPE_API_KEY \(HTTP 401: Invalid API Key provided/)]);
    expect(output).not.toContain("[stripe]");
    expect(standin.unauthorized()).toBeGreaterThan(refusedBefore);
    expect(output).toContain("STRIPE_API_KEY=sk_test_... npm start");

    const local = await runScript("trigger", ["customer.subscription.updated", "--json"], env);
    expect(local.code, local.stderr).toBe(0);
    expectNothingSecret(receiver.output());
  });

  it("with Stripe unreachable (no network): starts on its local secret and says why in one line", { timeout: 90_000 }, async () => {
    const { receiver } = await receiverWith(cliEnv(apiKey, await unreachableEndpoint()));
    const why = receiver.output().split("\n").filter((line) => line.includes("not forwarding"));
    expect(why).toEqual([expect.stringMatching(/not forwarding: stripe listen --print-secret failed: .*connection refused/)]);
    expectNothingSecret(receiver.output());
  });

  it("refuses a live-mode key before starting anything", async () => {
    const sessionsBefore = standin.sessions.length;
    const liveKey = `sk_live_${randomBytes(16).toString("hex")}`;
    const data = tempDataDir();
    cleanups.push(data.remove);
    const run = await runScript("start", ["--memory"], { ...cliEnv(liveKey), DATA_DIR: data.dir, PORT: "0" });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: STRIPE_API_KEY is a live-mode key \(sk_live_\.\.\.\): the local tools only take test-mode keys/m);
    expect(run.stdout + run.stderr).not.toContain(liveKey);
    expect(standin.sessions.length).toBe(sessionsBefore);
  });
});

describe("npm run trigger -- --stripe", () => {
  it("runs the real stripe trigger against Stripe (the stand-in): the fixture's API calls, exit 0", { timeout: 60_000 }, async () => {
    const run = await runScript("trigger", ["--stripe", "invoice.paid"], cliEnv(apiKey));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\[stripe\] Trigger succeeded!/m);
    expect(standin.apiRequests).toEqual(expect.arrayContaining(["POST /v1/customers", "POST /v1/invoices"]));
    expectNothingSecret(run.stdout + run.stderr);
  });

  it("fails with Stripe's reason for a refused key, and refuses a live key or a missing one", { timeout: 60_000 }, async () => {
    const refused = await runScript("trigger", ["--stripe", "invoice.paid"], cliEnv(wrongKey));
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/Invalid API Key provided: sk_test_…/);
    expectNothingSecret(refused.stdout + refused.stderr);

    const liveKey = `rk_live_${randomBytes(16).toString("hex")}`;
    const live = await runScript("trigger", ["--stripe", "invoice.paid"], cliEnv(liveKey));
    expect(live.code).toBe(2);
    expect(live.stderr).toMatch(/STRIPE_API_KEY is a live-mode key/);
    expect(live.stdout + live.stderr).not.toContain(liveKey);

    const { STRIPE_API_KEY: _omitted, ...withoutKey } = cliEnv(apiKey);
    const missing = await runScript("trigger", ["--stripe", "invoice.paid"], withoutKey);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/STRIPE_API_KEY is not set/);

    const mixed = await runScript("trigger", ["--stripe", "invoice.paid", "--count", "2"], cliEnv(apiKey));
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--stripe sends through Stripe, so --count do not apply/);
  });
});
