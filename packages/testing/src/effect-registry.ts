import { eventCatalog } from "@stripe-webhooks/core/catalog";
import type { HandlerContext, HandlerRegistry, HandlerResult } from "@stripe-webhooks/core/dispatch";

/*
 * A handler registry for exactly-once tests: every catalog type runs one handler that counts a
 * side effect per event id, and only once the handler returns, as a real effect commits. It can
 * be switched to failing and back (an outage and its fix), and a hook runs inside every handler
 * so a test can hold one open (a slow handler) or act at a precise moment of a run.
 */

/** What the registry's handler sees of an event. */
export interface HandledEvent {
  id: string;
  type: string;
  created: number;
}

/** Runs inside the handler before its effect; may wait or throw (then no effect is counted). */
export type HandlerHook = (event: HandledEvent, context: HandlerContext) => Promise<void> | void;

export interface EffectRegistry {
  registry: HandlerRegistry;
  /** Side effects committed for one event. */
  effects(id: string): number;
  /** Handler runs started for one event, committed or not. */
  started(id: string): number;
  /** Every event id with a committed effect, and how many. */
  readonly effectCounts: ReadonlyMap<string, number>;
  /** Makes the handler throw for the events `which` picks (default: all) until {@link succeed}. */
  fail(which?: (event: HandledEvent) => boolean): void;
  /** Ends {@link fail}: handlers succeed again. */
  succeed(): void;
  /** Sets (or with undefined, removes) the hook every handler run awaits first. */
  onRun(hook: HandlerHook | undefined): void;
}

/** A fresh registry with no effects, succeeding, without a hook. */
export function effectRegistry(): EffectRegistry {
  const effectCounts = new Map<string, number>();
  const startedCounts = new Map<string, number>();
  let failing: ((event: HandledEvent) => boolean) | undefined;
  let hook: HandlerHook | undefined;

  const handler = async (event: HandledEvent, context: HandlerContext): Promise<HandlerResult> => {
    startedCounts.set(event.id, (startedCounts.get(event.id) ?? 0) + 1);
    await hook?.(event, context);
    if (failing?.(event)) throw new Error(`injected handler failure for ${event.id}`);
    const count = (effectCounts.get(event.id) ?? 0) + 1;
    effectCounts.set(event.id, count);
    return { outcome: `effect ${count} for ${event.id}` };
  };
  // One handler for every type: it reads only the envelope, which every event type has.
  const registry = Object.fromEntries(eventCatalog.map((type) => [type, handler])) as unknown as HandlerRegistry;

  return {
    registry,
    effects: (id) => effectCounts.get(id) ?? 0,
    started: (id) => startedCounts.get(id) ?? 0,
    effectCounts,
    fail(which = () => true) {
      failing = which;
    },
    succeed() {
      failing = undefined;
    },
    onRun(next) {
      hook = next;
    },
  };
}
