import { parseArgs, type ParseArgsConfig } from "node:util";
import { printable } from "./table.ts";

/** A mistake in how a tool was invoked or configured: reported in one line, no stack. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * `parseArgs` for a tool: every tool takes `-h`/`--help`, which prints `usage` and gives
 * undefined (the tool then exits 0), and parse errors become UsageErrors that carry the usage
 * and quote the offending argument escaped.
 */
export function parseCli<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> | undefined {
  const withHelp = { ...config, options: { ...config.options, help: { type: "boolean", short: "h" } } } as const;
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    // `withHelp` only adds an option, so what it parses is what T describes, plus `help`.
    parsed = parseArgs({ ...withHelp, args: config.args ?? process.argv.slice(2) }) as ReturnType<typeof parseArgs<T>>;
  } catch (error) {
    if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
      // Node quotes the offending argument as given, terminal controls and all.
      throw new UsageError(`${printable(error.message)}\n\n${usage}`);
    }
    throw error;
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    console.log(usage);
    return undefined;
  }
  return parsed;
}

// What every tool that reads a ledger takes beside its own flags: --json and the local data directory.
const ledgerToolOptions = {
  json: { type: "boolean", default: false },
  "data-dir": { type: "string" },
} as const;

/**
 * `parseCli` for a tool that reads a ledger (events, entitlements, reconcile, replay): its own
 * `options` plus `--json` and `--data-dir`, strict, with positionals only when the tool takes
 * them. Undefined after printing `--help`, like `parseCli`.
 */
export function parseLedgerToolCli<O extends NonNullable<ParseArgsConfig["options"]>, P extends boolean = false>(
  options: O,
  usage: string,
  allowPositionals: P = false as P,
) {
  return parseCli({ options: { ...ledgerToolOptions, ...options }, allowPositionals, strict: true }, usage);
}

/** A whole number from a flag or variable, within bounds, or a UsageError naming it. */
export function parseCount(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min) {
    throw new UsageError(`${name} must be a whole number >= ${min}, got "${printable(value)}"`);
  }
  return number;
}

/**
 * Runs a tool's main function: a UsageError prints its message and exits 2, any other error
 * prints its message and exits 1 (stack only with DEBUG set, since these are expected
 * failures such as a receiver that is not running). Without `exit`, the process ends when
 * its work does, so piped output is never cut short.
 */
export function runMain(main: () => Promise<number | void>, options: { exit?: boolean } = {}): void {
  // The SDK warns on every start that Node 20 support ends in 2027; the deployed function runs
  // a current runtime, and the local tools' output stays readable without the repeat.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const finish = (code: number) => {
    if (options.exit) process.exit(code);
    process.exitCode = code;
  };
  main().then(
    (code) => finish(code ?? 0),
    (error: unknown) => {
      const usage = error instanceof UsageError;
      const message = error instanceof Error ? error.message : String(error);
      console.error(`error: ${message}`);
      if (!usage && process.env.DEBUG && error instanceof Error) console.error(error.stack);
      finish(usage ? 2 : 1);
    },
  );
}
