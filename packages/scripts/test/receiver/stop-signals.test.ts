import { describe, expect, it } from "vitest";
import { listenForStop, sameStopWindowMs, type StopSignalSource } from "../../src/receiver/stop-signals.ts";

/** Signals delivered by hand, on a clock the test moves. */
function fakeProcess(): StopSignalSource & { send(signal: NodeJS.Signals): void; advance(ms: number): void } {
  const listeners = new Map<NodeJS.Signals, Array<() => void>>();
  let now = 0;
  return {
    on: (signal, listener) => listeners.set(signal, [...(listeners.get(signal) ?? []), listener]),
    now: () => now,
    send: (signal) => {
      for (const listener of listeners.get(signal) ?? []) listener();
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

describe("stop signals", () => {
  it("takes the copies npm and the terminal deliver of one Ctrl+C as one request to stop", async () => {
    const source = fakeProcess();
    const stop = listenForStop(source);
    const seconds: NodeJS.Signals[] = [];
    stop.onSecond((signal) => seconds.push(signal));

    source.send("SIGINT");
    source.advance(5);
    source.send("SIGINT");
    source.advance(sameStopWindowMs - 10);
    source.send("SIGTERM");

    expect(await stop.first).toBe("SIGINT");
    expect(seconds).toEqual([]);
  });

  it("a later signal is a second Ctrl+C, reported once, even before anyone listens for it", async () => {
    const source = fakeProcess();
    const stop = listenForStop(source);

    source.send("SIGTERM");
    source.advance(sameStopWindowMs);
    source.send("SIGINT");
    source.advance(sameStopWindowMs);
    source.send("SIGINT");

    const seconds: NodeJS.Signals[] = [];
    stop.onSecond((signal) => seconds.push(signal));
    expect(await stop.first).toBe("SIGTERM");
    expect(seconds).toEqual(["SIGINT"]);
  });

  it("a hang-up (the terminal closed) stops the receiver like Ctrl+C", async () => {
    const source = fakeProcess();
    const stop = listenForStop(source);
    source.send("SIGHUP");
    expect(await stop.first).toBe("SIGHUP");
  });
});
