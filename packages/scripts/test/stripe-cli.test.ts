import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { processAlive } from "../src/data-dir.ts";
import {
  checkApiKey,
  linePrefix,
  redact,
  runStripeTrigger,
  startStripeListen,
  stopLeftoverListen,
  stripeCliBinary,
} from "../src/stripe-cli.ts";

/*
 * The Stripe CLI module with stand-in executables (small shell scripts) where the point is what
 * the module does around the CLI: key checks, what reaches the command line and the environment,
 * redaction, timeouts, stopping. The real binary against a stand-in Stripe: stripe-cli.e2e.test.ts.
 */

const key = "sk_test_51Habcdefghijklmnopqrstuvwxyz0123456789";
const secret = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An executable `stripe` that runs `script` (sh), recording its arguments and key in `calls`. */
function fakeCli(script: string): { binary: string; calls: string; pidFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "stripe-cli-test-"));
  dirs.push(dir);
  const binary = join(dir, "stripe");
  const calls = join(dir, "calls");
  const pidFile = join(dir, "pid");
  writeFileSync(
    binary,
    `#!/bin/sh\necho "args: $*" >> "${calls}"\necho "env: $STRIPE_API_KEY" >> "${calls}"\necho $$ > "${pidFile}"\n${script}\n`,
  );
  chmodSync(binary, 0o755);
  return { binary, calls, pidFile };
}

// `listen --print-secret` prints the secret; `listen` says it is ready (leaking what it can) and waits.
const listeningCli = `
if [ "$2" = "--print-secret" ]; then echo "${secret}"; exit 0; fi
echo "Ready! Your webhook signing secret is ${secret} (^C to quit)" >&2
echo "key $STRIPE_API_KEY signature t=1700000000,v1=abcdef0123456789"
exec sleep 60`;

function printer(): { lines: string[]; print: (line: string) => void; printed: (count: number) => Promise<void> } {
  const lines: string[] = [];
  const waiting: Array<{ count: number; resolve: () => void }> = [];
  return {
    lines,
    print: (line) => {
      lines.push(line);
      for (const waiter of waiting.filter((candidate) => lines.length >= candidate.count)) waiter.resolve();
    },
    printed: (count) =>
      lines.length >= count ? Promise.resolve() : new Promise((resolve) => waiting.push({ count, resolve })),
  };
}

describe("checkApiKey", () => {
  it.each(["sk_test_abc123", "rk_test_51HxYz"])("accepts the test-mode key %s", (value) => {
    expect(checkApiKey(value)).toBeUndefined();
  });

  it.each([
    ["sk_live_51Habcdefgh", /live-mode key \(sk_live_\.\.\.\).*only take test-mode keys/],
    ["rk_live_51Habcdefgh", /live-mode key \(rk_live_\.\.\.\)/],
    ["pk_test_51Habcdefgh", /publishable key/],
    ["whsec_abcdefgh1234", /webhook signing secret.*STRIPE_WEBHOOK_SECRET/],
    ["not-a-key-at-all", /not a Stripe test-mode API key.*\(got 16 characters\)/],
    ["sk_test_has space", /not a Stripe test-mode API key/],
    ["", /STRIPE_API_KEY is not set/],
  ])("refuses %j clearly, quoting no more than its prefix", (value, message) => {
    const problem = checkApiKey(value);
    expect(problem).toMatch(message);
    if (value.length > 8) expect(problem).not.toContain(value);
  });
});

describe("redact", () => {
  it("cuts keys to their prefix, secrets to a recognisable start, and drops signatures", () => {
    expect(redact(`key ${key} and sk_live_abc123 and Stripe's sk_test_********wxyz`, key)).toBe(
      "key sk_test_… and sk_live_… and Stripe's sk_test_…",
    );
    expect(redact(`secret ${secret}`)).toBe("secret whsec_0123…");
    expect(redact("Stripe-Signature: t=1700000000,v1=abcdef0123,v0=ff")).toBe("Stripe-Signature: t=1700000000,v1=…,v0=ff");
  });
});

describe("stripeCliBinary", () => {
  it("finds the binary the pinned @stripe/cli installed for this platform", () => {
    const binary = stripeCliBinary();
    expect(binary).toBeDefined();
    expect(existsSync(binary ?? "")).toBe(true);
  });
});

describe("startStripeListen", () => {
  it("gets the secret, starts listen with the forward URL and events, the key only in the environment", async () => {
    const cli = fakeCli(listeningCli);
    const out = printer();
    const started = await startStripeListen(
      { binary: cli.binary, env: { ...process.env, STRIPE_API_KEY: key, STRIPE_CLI_API_BASE: "http://127.0.0.1:9" }, print: out.print },
      { forwardTo: "http://127.0.0.1:3000/stripe/webhook", events: ["invoice.paid", "checkout.session.completed"] },
    );
    if (!started.ok) throw new Error(started.reason);
    expect(started.listen.secret).toBe(secret);

    const calls = readFileSync(cli.calls, "utf8").trim().split("\n");
    expect(calls).toEqual([
      "args: listen --print-secret --color off --api-base http://127.0.0.1:9",
      `env: ${key}`,
      "args: listen --forward-to http://127.0.0.1:3000/stripe/webhook --events invoice.paid,checkout.session.completed " +
        "--skip-update --color off --api-base http://127.0.0.1:9",
      `env: ${key}`,
    ]);

    expect(out.lines).toContain(`${linePrefix}Ready! Your webhook signing secret is whsec_0123… (^C to quit)`);
    // Printing is line by line as the CLI writes; its stdout line may still be on its way.
    await out.printed(2);
    const printed = out.lines.join("\n");
    expect(printed).not.toContain(key);
    expect(printed).not.toContain(secret);
    expect(printed).toContain("key sk_test_… signature t=1700000000,v1=…");

    const pid = started.listen.pid ?? 0;
    expect(processAlive(pid)).toBe(true);
    await started.listen.stop();
    expect(processAlive(pid)).toBe(false);
    // A stop says nothing: the receiver's own lines say it is stopping.
    expect(out.lines.some((line) => line.includes("exited"))).toBe(false);
  });

  it("reports a CLI that dies after it was ready in one prefixed line", async () => {
    const cli = fakeCli(`
if [ "$2" = "--print-secret" ]; then echo "${secret}"; exit 0; fi
echo "Ready! Your webhook signing secret is ${secret} (^C to quit)" >&2
exit 3`);
    const out = printer();
    const started = await startStripeListen(
      { binary: cli.binary, env: { STRIPE_API_KEY: key }, print: out.print },
      { forwardTo: "http://127.0.0.1:3000/stripe/webhook", events: ["invoice.paid"] },
    );
    if (!started.ok) throw new Error(started.reason);
    await started.listen.exited;
    expect(out.lines.at(-1)).toBe(`${linePrefix}stripe listen exited (code 3): events from Stripe are no longer forwarded`);
  });

  it("fails in one line, leaving nothing running, when Stripe does not answer in time", async () => {
    const cli = fakeCli("exec sleep 60");
    const started = await startStripeListen(
      { binary: cli.binary, env: { STRIPE_API_KEY: key }, print: () => {}, timeoutMs: 300 },
      { forwardTo: "http://127.0.0.1:3000/stripe/webhook", events: ["invoice.paid"] },
    );
    expect(started).toEqual({ ok: false, reason: "stripe listen --print-secret had no answer from Stripe within 0.3 s" });
    expect(processAlive(Number(readFileSync(cli.pidFile, "utf8")))).toBe(false);
  });

  it("explains Stripe's refusal and the CLI's own errors in one line, without the key", async () => {
    const refusing = fakeCli(
      `echo 'Authorization failed, status=401, body={' >&2; echo '  "error": { "message": "Invalid API Key provided: sk_test_****6789" }' >&2; echo '}' >&2; exit 1`,
    );
    const deps = { env: { STRIPE_API_KEY: key }, print: () => {} };
    const options = { forwardTo: "http://127.0.0.1:3000/stripe/webhook", events: ["invoice.paid"] };
    expect(await startStripeListen({ ...deps, binary: refusing.binary }, options)).toEqual({
      ok: false,
      reason: "Stripe refused STRIPE_API_KEY (HTTP 401: Invalid API Key provided: sk_test_…)",
    });

    const broken = fakeCli(`echo "something else went wrong with ${key}" >&2; exit 1`);
    expect(await startStripeListen({ ...deps, binary: broken.binary }, options)).toEqual({
      ok: false,
      reason: "stripe listen --print-secret failed: something else went wrong with sk_test_…",
    });
  });

  it("fails in one line when the CLI is missing or the key is not a test-mode key", async () => {
    const options = { forwardTo: "http://127.0.0.1:3000/stripe/webhook", events: ["invoice.paid"] };
    const missing = await startStripeListen({ binary: undefined, env: { STRIPE_API_KEY: key }, print: () => {} }, options);
    expect(missing).toMatchObject({ ok: false, reason: expect.stringMatching(/Stripe CLI is not installed/) });

    const absent = await startStripeListen({ binary: "/nonexistent/stripe", env: { STRIPE_API_KEY: key }, print: () => {} }, options);
    expect(absent).toMatchObject({ ok: false, reason: expect.stringMatching(/could not run the Stripe CLI \(\/nonexistent\/stripe\): .*ENOENT/) });

    const cli = fakeCli(listeningCli);
    const live = await startStripeListen({ binary: cli.binary, env: { STRIPE_API_KEY: "sk_live_abcdef" }, print: () => {} }, options);
    expect(live).toMatchObject({ ok: false, reason: expect.stringMatching(/live-mode key/) });
    expect(existsSync(cli.calls)).toBe(false);
  });
});

describe("runStripeTrigger", () => {
  it("runs stripe trigger <type>, prints its lines prefixed and returns its exit code", async () => {
    const cli = fakeCli(`echo "Running fixture for: customer"; echo "Trigger failed: $STRIPE_API_KEY" >&2; exit 1`);
    const out = printer();
    const code = await runStripeTrigger(
      { binary: cli.binary, env: { STRIPE_API_KEY: key, STRIPE_CLI_API_BASE: "http://127.0.0.1:9" }, print: out.print },
      "invoice.paid",
    );
    expect(code).toBe(1);
    expect(readFileSync(cli.calls, "utf8")).toContain("args: trigger invoice.paid --color off --api-base http://127.0.0.1:9\n");
    expect(out.lines.sort()).toEqual([`${linePrefix}Running fixture for: customer`, `${linePrefix}Trigger failed: sk_test_…`]);
  });
});

describe("stopLeftoverListen", () => {
  it("leaves alone a process whose id was recycled by something that is not that stripe listen", async () => {
    const forwardTo = "http://127.0.0.1:3000/stripe/webhook";
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = other.pid ?? 0;
    try {
      expect(stopLeftoverListen(pid, forwardTo)).toBe(false);
      expect(stopLeftoverListen(process.pid, forwardTo)).toBe(false);
      expect(processAlive(pid)).toBe(true);
    } finally {
      other.kill();
    }
  });
});
