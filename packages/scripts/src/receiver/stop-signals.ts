/*
 * Ctrl+C in a terminal signals the whole foreground process group, and `npm start` passes the
 * signal it got on to the receiver as well: one keypress can reach the receiver as several
 * SIGINTs within moments of each other. Counted as separate presses, the copy would cut off
 * the requests the first one meant to let finish. So signals that follow the first closely are
 * the same request to stop; only a later one is a second Ctrl+C.
 */

export const stopSignals: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Signals closer than this to the first are copies of it, not a second Ctrl+C. */
export const sameStopWindowMs = 1000;

export interface StopSignalSource {
  on(signal: NodeJS.Signals, listener: () => void): void;
  now(): number;
}

export interface StopRequests {
  /** Resolves with the first stop signal received. */
  first: Promise<NodeJS.Signals>;
  /** Called once, on the first signal that is not a copy of the first one. */
  onSecond(callback: (signal: NodeJS.Signals) => void): void;
}

const processSource: StopSignalSource = {
  on: (signal, listener) => process.on(signal, listener),
  now: () => performance.now(),
};

/** Listens for stop signals from now on; see the module comment for what counts as a second one. */
export function listenForStop(source: StopSignalSource = processSource): StopRequests {
  let firstAt: number | undefined;
  let second: ((signal: NodeJS.Signals) => void) | undefined;
  let secondSignal: NodeJS.Signals | undefined;
  let resolveFirst: (signal: NodeJS.Signals) => void = () => {};
  const first = new Promise<NodeJS.Signals>((resolve) => (resolveFirst = resolve));

  const received = (signal: NodeJS.Signals) => {
    const now = source.now();
    if (firstAt === undefined) {
      firstAt = now;
      resolveFirst(signal);
      return;
    }
    if (secondSignal !== undefined || now - firstAt < sameStopWindowMs) return;
    secondSignal = signal;
    second?.(signal);
  };
  for (const signal of stopSignals) source.on(signal, () => received(signal));

  return {
    first,
    onSecond: (callback) => {
      second = callback;
      // A second Ctrl+C may come before anyone asked to hear of it.
      if (secondSignal !== undefined) callback(secondSignal);
    },
  };
}
