import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

/*
 * Everything about running the real Stripe CLI (the pinned `@stripe/cli` devDependency) for the
 * local tools: `stripe listen` for the receiver, `stripe trigger` for `npm run trigger --
 * --stripe`. The CLI reads the key from STRIPE_API_KEY in its environment (pkg/config/profile.go),
 * so the key is never on a command line that `ps` shows. STRIPE_CLI_API_BASE becomes the CLI's
 * hidden `--api-base` flag, which it only allows for api.stripe.com and 127.0.0.1 (tests).
 * Nothing printed from here holds the key, a whole signing secret or a signature.
 */

export const linePrefix = "[stripe] ";

/** What running the CLI needs, passed in so tests can give a fake binary or environment. */
export interface StripeCliDeps {
  /** The `stripe` executable; undefined when it is not installed. */
  binary: string | undefined;
  /** The child's environment: STRIPE_API_KEY (required) and STRIPE_CLI_API_BASE are read from it. */
  env: NodeJS.ProcessEnv;
  /** Prints one line (already prefixed and redacted). */
  print: (line: string) => void;
  /** How long Stripe may take to hand out a session (each step), in ms. */
  timeoutMs?: number;
}

export type Failure = { ok: false; reason: string };

const defaultTimeoutMs = 20_000;
const stopTimeoutMs = 5_000;

/**
 * Why `key` cannot be given to the CLI, or undefined for a test-mode secret or restricted key.
 * Only the key's public prefix is ever quoted.
 */
export function checkApiKey(key: string | undefined, variable = "STRIPE_API_KEY"): string | undefined {
  if (!key) return `${variable} is not set: give a test-mode key (sk_test_... or rk_test_...)`;
  if (/^[sr]k_test_[A-Za-z0-9]+$/.test(key)) return undefined;
  if (/^[sr]k_live_/.test(key)) {
    return (
      `${variable} is a live-mode key (${key.slice(0, 8)}...): the local tools only take test-mode keys ` +
      "(sk_test_... or rk_test_...), so live events and live objects never reach this machine. " +
      `Unset it here (env -u ${variable} ...) or use a test-mode key.`
    );
  }
  if (key.startsWith("pk_")) {
    return `${variable} is a publishable key (pk_...): the Stripe CLI needs a secret (sk_test_...) or restricted (rk_test_...) key`;
  }
  if (key.startsWith("whsec_")) {
    return `${variable} is a webhook signing secret (whsec_...), not an API key: that one goes in STRIPE_WEBHOOK_SECRET`;
  }
  return `${variable} is not a Stripe test-mode API key: expected sk_test_... or rk_test_... (got ${key.length} characters)`;
}

/**
 * The CLI binary that `@stripe/cli` installed: its platform package (an optional dependency),
 * else the copy its postinstall downloads when optional dependencies were skipped. This is
 * what its own `bin/shim.js` runs; running the binary directly means stopping it stops the CLI,
 * not a wrapper.
 */
export function stripeCliBinary(): string | undefined {
  const require = createRequire(import.meta.url);
  let wrapper: string;
  let platforms: Record<string, { pkg: string; bin: string } | undefined>;
  try {
    wrapper = dirname(require.resolve("@stripe/cli/package.json"));
    platforms = JSON.parse(readFileSync(join(wrapper, "platforms.json"), "utf8")) as typeof platforms;
  } catch {
    // Not installed (or not as 1.52 ships it): the caller says the CLI is missing.
    return undefined;
  }
  const platform = platforms[`${process.platform}-${process.arch}`];
  if (!platform) return undefined;
  try {
    const binary = join(dirname(require.resolve(`${platform.pkg}/package.json`)), "bin", platform.bin);
    if (existsSync(binary)) return binary;
  } catch {
    // Not installed as a platform package: look for the postinstall's download.
  }
  const vendored = join(wrapper, "vendor", "bin", platform.bin);
  return existsSync(vendored) ? vendored : undefined;
}

/**
 * The line with every API key cut to its public prefix, signing secrets to a recognisable
 * `whsec_1234…` and signatures removed, whatever the CLI (or Stripe's error text) put in it.
 */
export function redact(line: string, apiKey?: string): string {
  let shown = apiKey ? line.split(apiKey).join(`${apiKey.slice(0, 8)}…`) : line;
  // Stripe's own messages mask keys as sk_test_****abcd; the last four go too.
  shown = shown.replace(/\b([sr]k_(?:test|live)_)[A-Za-z0-9*]+/g, "$1…");
  shown = shown.replace(/\bwhsec_([A-Za-z0-9]{4})[A-Za-z0-9+/=_-]*/g, "whsec_$1…");
  return shown.replace(/\bv1=[0-9a-fA-F]+/g, "v1=…");
}

/** A signing secret as the tools show one they did not generate: enough to tell two apart. */
export function describeSecret(secret: string): string {
  return redact(secret);
}

/** The CLI's error output as one line: Stripe's own message when it refused the request. */
function failureReason(lines: readonly string[], apiKey: string | undefined, what: string): string {
  const text = lines.join("\n");
  const refused = /Authorization failed, status=(\d+)/.exec(text);
  if (refused) {
    const message = /"message":\s*"((?:[^"\\]|\\.)*)"/.exec(text)?.[1];
    const detail = message ? `: ${message}` : "";
    return redact(`Stripe refused STRIPE_API_KEY (HTTP ${refused[1]}${detail})`, apiKey);
  }
  // logrus prefixes its lines with a level and a time; the message is what explains.
  const last = lines
    .map((line) => line.replace(/^\s*(?:\[[^\]]*\]\s*)?(?:FATA|ERRO|WARN|FATAL|ERROR)\S*\s*/, "").trim())
    .filter((line) => line !== "")
    .at(-1);
  const shown = last === undefined ? "no output" : last.length > 200 ? `${last.slice(0, 197)}...` : last;
  return redact(`${what} failed: ${shown}`, apiKey);
}

/**
 * Stops a `stripe listen` a killed receiver left running (see `leftoverStripeListen`), after
 * checking by its command line that the process id still names one forwarding to `forwardTo`:
 * a recycled id of another process is left alone. True when it was stopped.
 */
export function stopLeftoverListen(pid: number, forwardTo: string): boolean {
  // `ps -o command=` prints the full command line on Linux and macOS alike.
  const shown = spawnSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" });
  const command = shown.status === 0 ? shown.stdout : "";
  if (!/\blisten\b/.test(command) || !command.includes(`--forward-to ${forwardTo}`)) return false;
  try {
    process.kill(pid, "SIGTERM");
    return true;
  } catch {
    return false;
  }
}

function apiBaseArgs(env: NodeJS.ProcessEnv): string[] {
  const base = env.STRIPE_CLI_API_BASE;
  return base ? ["--api-base", base] : [];
}

interface Run {
  child: ChildProcess;
  /** Every output line so far (stdout and stderr), unredacted: for reasons and readiness only. */
  lines: string[];
  onLine(listener: (line: string) => void): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
}

function run(binary: string, args: string[], env: NodeJS.ProcessEnv): Run {
  // Stdin is closed: the CLI then never offers an interactive `stripe login`.
  const child = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      lines.push(line);
      // A long-running listen prints a few lines per event; only the recent ones can explain a failure.
      if (lines.length > 200) lines.splice(0, lines.length - 100);
      for (const listener of listeners) listener(line);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    // "close" rather than "exit": every output line has been read by then.
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, lines, onLine: (listener) => listeners.push(listener), exited };
}

async function terminate(running: Run): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), stopTimeoutMs);
  });
  const outcome = await Promise.race([running.exited, late]);
  clearTimeout(timer);
  if (outcome !== "late") return;
  running.child.kill("SIGKILL");
  await running.exited;
}

function preflight(deps: StripeCliDeps): { binary: string; apiKey: string } | Failure {
  const apiKey = deps.env.STRIPE_API_KEY;
  const problem = checkApiKey(apiKey);
  if (problem || !apiKey) return { ok: false, reason: problem ?? "STRIPE_API_KEY is not set" };
  if (!deps.binary) {
    return {
      ok: false,
      reason: `the Stripe CLI is not installed for ${process.platform}-${process.arch} (npm ci installs @stripe/cli and its platform package)`,
    };
  }
  return { binary: deps.binary, apiKey };
}

/** A running `stripe listen`. */
export interface StripeListen {
  /** The signing secret it signs forwarded events with. */
  secret: string;
  pid: number | undefined;
  /** Resolves once the CLI has exited, stopped or not. */
  exited: Promise<void>;
  /** Terminates the CLI and resolves once it has exited. */
  stop(): Promise<void>;
}

export interface ListenOptions {
  forwardTo: string;
  events: readonly string[];
}

/**
 * `stripe listen --print-secret` (so the secret is known before the handler is configured),
 * then `stripe listen --forward-to`, resolved once it is connected to Stripe. The CLI's output
 * is printed with {@link linePrefix}. Any failure to start, authenticate or connect in time is
 * one line in `reason`, and no CLI is left running.
 */
export async function startStripeListen(deps: StripeCliDeps, options: ListenOptions): Promise<{ ok: true; listen: StripeListen } | Failure> {
  const checked = preflight(deps);
  if ("ok" in checked) return checked;
  const { binary, apiKey } = checked;
  const timeoutMs = deps.timeoutMs ?? defaultTimeoutMs;
  const seconds = `${timeoutMs / 1000} s`;

  // The secret is not printed: it stays in `lines`, which only feed the failure reason.
  const printing = run(binary, ["listen", "--print-secret", "--color", "off", ...apiBaseArgs(deps.env)], deps.env);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const printed = await Promise.race([printing.exited, timedOut]);
  clearTimeout(timer);
  if (printed === "timeout") {
    await terminate(printing);
    return { ok: false, reason: `stripe listen --print-secret had no answer from Stripe within ${seconds}` };
  }
  if (printed.error) return { ok: false, reason: `could not run the Stripe CLI (${binary}): ${printed.error.message}` };
  const secret = printing.lines.map((line) => line.trim()).find((line) => /^whsec_[A-Za-z0-9]+$/.test(line));
  if (printed.code !== 0 || !secret) {
    return { ok: false, reason: failureReason(printing.lines, apiKey, "stripe listen --print-secret") };
  }

  const args = [
    "listen",
    "--forward-to",
    options.forwardTo,
    "--events",
    options.events.join(","),
    // The version is pinned in package.json; the check would only call GitHub and nag.
    "--skip-update",
    "--color",
    "off",
    ...apiBaseArgs(deps.env),
  ];
  const listening = run(binary, args, deps.env);
  let stopping = false;
  let connected = false;
  let ready: () => void = () => {};
  const isReady = new Promise<"ready">((resolve) => (ready = () => resolve("ready")));
  listening.onLine((line) => {
    // The CLI ends its spinner with an empty line.
    if (line.trim() !== "") deps.print(`${linePrefix}${redact(line, apiKey)}`);
    if (!line.includes("Ready!")) return;
    connected = true;
    ready();
  });
  const exited = listening.exited.then((outcome) => {
    // Before it was ready, the failure reason says it; once stopped, nothing needs saying.
    if (stopping || !connected) return outcome;
    const how = outcome.error ? outcome.error.message : outcome.signal ? `signal ${outcome.signal}` : `code ${outcome.code}`;
    deps.print(`${linePrefix}stripe listen exited (${how}): events from Stripe are no longer forwarded`);
    return outcome;
  });

  const readyTimeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const started = await Promise.race([isReady, exited, readyTimeout]);
  clearTimeout(timer);
  if (started !== "ready") {
    stopping = true;
    await terminate(listening);
    if (started === "timeout") return { ok: false, reason: `stripe listen did not connect to Stripe within ${seconds}` };
    if (started.error) return { ok: false, reason: `could not run the Stripe CLI (${binary}): ${started.error.message}` };
    return { ok: false, reason: failureReason(listening.lines, apiKey, "stripe listen") };
  }

  return {
    ok: true,
    listen: {
      secret,
      pid: listening.child.pid,
      exited: exited.then(() => {}),
      stop: async () => {
        stopping = true;
        await terminate(listening);
      },
    },
  };
}

/**
 * `stripe trigger <type>`: the CLI creates the objects in the key's test-mode account, and
 * Stripe sends the resulting events to every `stripe listen` of that account. Returns the
 * CLI's exit code (1 when it cannot run).
 */
export async function runStripeTrigger(deps: StripeCliDeps, type: string): Promise<number> {
  const checked = preflight(deps);
  if ("ok" in checked) {
    deps.print(`${linePrefix}${checked.reason}`);
    return 1;
  }
  const { binary, apiKey } = checked;
  const running = run(binary, ["trigger", type, "--color", "off", ...apiBaseArgs(deps.env)], deps.env);
  running.onLine((line) => {
    if (line.trim() !== "") deps.print(`${linePrefix}${redact(line, apiKey)}`);
  });
  const outcome = await running.exited;
  if (outcome.error) {
    deps.print(`${linePrefix}could not run the Stripe CLI (${binary}): ${outcome.error.message}`);
    return 1;
  }
  return outcome.code ?? 1;
}
