/*
 * The switch between a warm-CPU harness and the DynamoDB clients inside a handler bundle. The
 * two are separate bundles, so they meet on one global object rather than a shared module.
 *
 * - live: requests go to DynamoDB as usual.
 * - record: as live, and every command's output (or error) is kept on the current key's tape.
 * - replay: the current key's tape is played back in order and nothing is sent, so the handler
 *   runs exactly the code path it ran live, minus the SDK's request work and the I/O.
 */

export type TapeMode = "live" | "record" | "replay";

export type TapeEntry = { ok: true; output: unknown } | { ok: false; error: unknown };

export interface Tape {
  mode: TapeMode;
  /** Selects the tape that the next commands record to or replay from, rewound. */
  use(key: string): void;
  /** Where the next command goes: record it, or take its result from the tape. */
  record(entry: TapeEntry): void;
  next(): TapeEntry;
  /** Commands replayed since the last reset, to check a replay did what the live run did. */
  replayed: number;
}

const key = Symbol.for("stripe-webhooks.bench.tape");

interface TapeHolder {
  [key]?: Tape;
}

function createTape(): Tape {
  const tapes = new Map<string, TapeEntry[]>();
  let current: TapeEntry[] = [];
  let currentKey = "";
  let cursor = 0;
  return {
    mode: "live",
    replayed: 0,
    use(name) {
      currentKey = name;
      cursor = 0;
      current = tapes.get(name) ?? [];
      tapes.set(name, current);
    },
    record(entry) {
      current.push(entry);
    },
    next() {
      const entry = current[cursor];
      if (entry === undefined) throw new Error(`tape "${currentKey}" has no command #${cursor + 1}: replay diverged`);
      cursor += 1;
      this.replayed += 1;
      return entry;
    },
  };
}

/** The process's one tape, created on first use by whichever bundle gets there first. */
export function benchTape(): Tape {
  const holder = globalThis as TapeHolder;
  holder[key] ??= createTape();
  return holder[key];
}
