import { fork } from "node:child_process";
import { tail } from "./processes.ts";

/*
 * Calls between a process and a child it forked, over Node's IPC channel, in both directions and
 * many at once: each call carries an id and its answer comes back with it. A bench puts the parts
 * of a system that run on machines of their own in production (a queue and its consumers,
 * Stripe's API) in processes of their own, so that their work does not wait behind the measured
 * code on one event loop.
 */

/** What a side serves: named calls, each taking and returning plain (structured-clone) data. */
export type Calls = Record<string, (input: never) => Promise<unknown>>;

/** A caller for what the other side serves. */
export type Caller<C extends Calls> = <K extends keyof C & string>(call: K, input: Parameters<C[K]>[0]) => Promise<Awaited<ReturnType<C[K]>>>;

type Message =
  | { kind: "call"; id: number; call: string; input: unknown }
  | { kind: "answer"; id: number; output: unknown }
  | { kind: "answer"; id: number; error: string };

interface Channel {
  send(message: Message): void;
  onMessage(listener: (message: Message) => void): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

function link<C extends Calls>(channel: Channel, serving: Calls, failure: (message: string) => Error): { call: Caller<C>; pending: Map<number, Pending> } {
  const pending = new Map<number, Pending>();
  let nextId = 0;
  channel.onMessage((message) => {
    if (message.kind === "call") {
      const handler = serving[message.call];
      const { id } = message;
      if (!handler) {
        channel.send({ kind: "answer", id, error: `no call named ${message.call}` });
        return;
      }
      handler(message.input as never).then(
        (output) => channel.send({ kind: "answer", id, output }),
        (error: unknown) => channel.send({ kind: "answer", id, error: error instanceof Error ? error.message : String(error) }),
      );
      return;
    }
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if ("error" in message) waiting.reject(failure(message.error));
    else waiting.resolve(message.output);
  });
  const call: Caller<C> = (name, input) => {
    const id = nextId;
    nextId += 1;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      channel.send({ kind: "call", id, call: name, input });
    });
  };
  return { call, pending };
}

/** The parent's side of a child that serves `C`. */
export interface Child<C extends Calls> {
  call: Caller<C>;
  /** Disconnects the child (it exits then) and waits for it to go. */
  stop(): Promise<void>;
}

/**
 * Forks `file` (a TypeScript module, run with this process's loader flags) and returns a caller
 * for what it serves; `serving` answers the child's calls. A call that fails in the child rejects
 * with its message and the child's last output; so does every pending call when the child exits.
 */
export function forkServing<C extends Calls>(file: string, what: string, serving: Calls = {}): Child<C> {
  const child = fork(file, [], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
  const output = tail(child.stderr);
  const { call, pending } = link<C>(
    { send: (message) => child.send(message), onMessage: (listener) => child.on("message", listener) },
    serving,
    (message) => new Error(`${what}: ${message}\n${output()}`),
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("exit", (code, signal) => {
    for (const waiting of pending.values()) waiting.reject(new Error(`${what} exited with ${code ?? signal}\n${output()}`));
    pending.clear();
  });
  return {
    call,
    async stop() {
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

/**
 * The child's side: answers its parent's calls with `calls`, returns a caller for what the parent
 * serves, and exits when the parent disconnects.
 */
export function serve<P extends Calls = Calls>(calls: Calls): Caller<P> {
  const send = (message: Message) => {
    if (!process.send) throw new Error("This module runs as a forked child (it has no IPC channel).");
    process.send(message);
  };
  const { call } = link<P>({ send, onMessage: (listener) => process.on("message", listener) }, calls, (message) => new Error(`the parent: ${message}`));
  process.on("disconnect", () => process.exit(0));
  return call;
}
