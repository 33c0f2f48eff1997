import { AsyncLocalStorage } from "node:async_hooks";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { HandlerContext } from "@stripe-webhooks/core/dispatch";
import { createWebhookApp } from "@stripe-webhooks/core/app";
import type { HandlerRegistry } from "@stripe-webhooks/core/dispatch";
import { leaseSeconds } from "@stripe-webhooks/core/limits";
import { delivery, nowSeconds, resigned, toWebhookRequest, type Delivery } from "./deliveries.ts";
import { effectRegistry, stageDependencies, type AnyEvent, type Answer } from "./handler-module.ts";
import type { LeakWatch } from "./leaks.ts";
import { sleep } from "./random.ts";

/*
 * The webhook pipeline as the Lambda entry composes it (the composition root with the Powertools
 * logger, the real ledger, the stage's config), run as Lambda runs it: each invocation in its own
 * "sandbox" (a fresh container: settings read anew, over the client of the moment) that can time
 * out or die, under a clock the test can move forward (leases, signatures), with every handler
 * run counted as a side effect once it returns.
 */

/** The test's clock: real time plus an offset that only grows. */
export class Clock {
  private offsetMs = 0;
  readonly now = () => Date.now() + this.offsetMs;
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
  /** Past every lease taken until now: what Stripe's next retry, minutes later, sees. */
  passLease(): void {
    this.advance(leaseSeconds + 1);
  }
}

interface Sandbox {
  dead: boolean;
  /** Its handler returned: the effect happened. */
  effect: boolean;
}

const sandboxes = new AsyncLocalStorage<Sandbox>();

/** Thrown into a dead sandbox's pending DynamoDB calls: a frozen or killed Lambda does nothing more. */
class SandboxGone extends Error {
  constructor() {
    super("the invocation's sandbox is gone");
    this.name = "SandboxGone";
  }
}

/** Makes a client refuse to do anything for an invocation whose sandbox died. */
export function bindToSandboxes(client: DynamoDBClient): DynamoDBClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      const sandbox = sandboxes.getStore();
      if (sandbox?.dead) throw new SandboxGone();
      const result = await next(args);
      if (sandbox?.dead) throw new SandboxGone();
      return result;
    },
    { step: "initialize", name: "reliabilitySandbox" },
  );
  return client;
}

export interface HarnessOptions {
  watch: LeakWatch;
  secret: string;
  table: string;
  /** The client the next invocation's ledger uses (the engine, a proxy, nowhere). */
  client: () => DynamoDBClient;
  clock?: Clock;
  /** What a handler does before its effect commits; may wait, throw or never return. */
  handlerBody?: (event: AnyEvent, context: HandlerContext) => Promise<void>;
}

/** An answer with the pipeline's code and what the invocation's handler did. */
export interface Outcome extends Answer {
  code: string;
  /** The handler returned in this invocation (its effect happened). */
  effect: boolean;
}

export class Harness {
  readonly clock: Clock;
  readonly effects;
  readonly started;
  /** Two live runs of one event at once. */
  overlaps = 0;
  /** A handler that ran after its event's result was recorded. */
  runsAfterRecorded = 0;
  /**
   * Per event: invocations whose handler ran but whose answer was 5xx: the completion write
   * failed, or its outcome is unknown (it may have landed after the connection was cut).
   */
  readonly unconfirmedCompletions = new Map<string, number>();
  /** Per event: every answer, in order, with whether its handler returned (for diagnostics). */
  readonly history = new Map<string, string[]>();
  private readonly recorded = new Set<string>();
  private readonly active = new Map<string, Set<Sandbox>>();
  private readonly registry: HandlerRegistry;

  constructor(private readonly options: HarnessOptions) {
    this.clock = options.clock ?? new Clock();
    const body = options.handlerBody ?? (async () => undefined);
    const { registry, effects, started } = effectRegistry(async (event, context) => {
      const sandbox = sandboxes.getStore() ?? { dead: false, effect: false };
      const running = this.active.get(event.id) ?? new Set<Sandbox>();
      if ([...running].some((other) => !other.dead)) this.overlaps += 1;
      if (this.recorded.has(event.id)) this.runsAfterRecorded += 1;
      running.add(sandbox);
      this.active.set(event.id, running);
      try {
        await body(event, context);
        if (sandbox.dead) throw new SandboxGone();
        sandbox.effect = true;
      } finally {
        running.delete(sandbox);
      }
    });
    this.effects = effects;
    this.started = started;
    this.registry = registry;
  }

  /** A new signed delivery of a catalog event. */
  delivery(type = "invoice.paid"): Delivery {
    return delivery(this.options.watch, type, { secret: this.options.secret, timestamp: nowSeconds(this.clock.now()) });
  }

  /**
   * Delivers `original` as Stripe delivers every attempt: signed afresh at the clock's time.
   * With `deadlineMs`, the invocation is abandoned then (Lambda's timeout: a 5xx, and the
   * sandbox does nothing more).
   */
  async invoke(original: Delivery, deadlineMs?: number): Promise<Outcome> {
    const attempt = resigned(this.options.watch, original, this.options.secret, nowSeconds(this.clock.now()));
    const sandbox: Sandbox = { dead: false, effect: false };
    const app = createWebhookApp(
      stageDependencies({
        client: this.options.client(),
        table: this.options.table,
        secrets: [this.options.secret],
        registry: this.registry,
        now: this.clock.now,
      }),
    );
    const run = sandboxes.run(sandbox, () => app.handleWebhook(toWebhookRequest(attempt.request)));
    let answer: Answer;
    if (deadlineMs === undefined) {
      const response = await run;
      answer = { status: response.statusCode, headers: response.headers, body: response.body };
    } else {
      const timedOut = sleep(deadlineMs).then(() => undefined);
      const response = await Promise.race([run, timedOut]);
      if (response === undefined) {
        sandbox.dead = true;
        run.catch(() => undefined);
        answer = { status: 502, headers: {}, body: JSON.stringify({ error: "function_timeout" }) };
      } else {
        answer = { status: response.statusCode, headers: response.headers, body: response.body };
      }
    }
    const parsed = JSON.parse(answer.body) as { result?: string; error?: string };
    const code = parsed.result ?? parsed.error ?? "";
    const id = original.event.id;
    const effect = sandbox.effect;
    if (code === "processed" || code === "duplicate") this.recorded.add(id);
    this.history.set(id, [...(this.history.get(id) ?? []), `${answer.status} ${code}${effect ? " +effect" : ""}`]);
    if (effect && answer.status >= 500) this.unconfirmedCompletions.set(id, (this.unconfirmedCompletions.get(id) ?? 0) + 1);
    this.options.watch.shown("pipeline answer", answer.body);
    return { ...answer, code, effect };
  }

  unconfirmedCompletionTotal(): number {
    return [...this.unconfirmedCompletions.values()].reduce((sum, count) => sum + count, 0);
  }

  /** Handler runs beyond the first, over `ids`. */
  reruns(ids: readonly string[]): number {
    return ids.reduce((sum, id) => sum + Math.max(0, this.effects.count(id) - 1), 0);
  }
}
