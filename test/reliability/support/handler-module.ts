import { ScanCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AppDependencies } from "@stripe-webhooks/core/app";
import { eventCatalog, type CatalogEventType } from "@stripe-webhooks/core/catalog";
import type { EventHandler, HandlerContext, HandlerRegistry, HandlerResult } from "@stripe-webhooks/core/dispatch";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { createLogger } from "@stripe-webhooks/functions/logger";
import { createWebhookHandler } from "@stripe-webhooks/functions/webhook-handler";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { vi } from "vitest";

/** An answer as the caller sees it, over HTTP or from the handler. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type AnyEvent = { id: string; type: string };

/** Every handler run, in order, with the event id: the side effects the suites count. */
export interface RunLog {
  runs: string[];
  count(id?: string): number;
}

/**
 * The function URL handler as the deployed entry composes it (`createWebhookHandler` with the
 * Powertools logger and the example handlers), over this engine and these secrets. Its handlers
 * are spied on, so every run is counted.
 */
export function loadLambdaHandler(settings: {
  client: DynamoDBClient;
  table: string;
  secrets: readonly string[];
  mode?: "test" | "live";
}): { invoke: (event: LambdaFunctionURLEvent) => Promise<Answer>; runs: RunLog } {
  const handlers: HandlerRegistry = { ...entitlementHandlers };
  const runs = spyOnRegistry(handlers);
  const handler = createWebhookHandler(stageDependencies({ ...settings, registry: handlers }));
  return {
    runs,
    invoke: async (event) => {
      const result = await handler(event);
      return { status: result.statusCode, headers: result.headers, body: result.body };
    },
  };
}

/**
 * A stage's dependencies for the composition root, as the deployed entry gives them: the
 * Powertools logger, the stage's secrets and mode, the ledger table on `client`.
 */
export function stageDependencies(settings: {
  client: DynamoDBClient;
  table: string;
  secrets: readonly string[];
  registry: HandlerRegistry;
  mode?: "test" | "live";
  now?: () => number;
}): AppDependencies {
  return {
    dynamo: settings.client,
    settings: () => ({ webhookSecret: settings.secrets.join(","), tableName: settings.table, mode: settings.mode ?? "test" }),
    registry: settings.registry,
    logger: createLogger(),
    ...(settings.now ? { now: settings.now } : {}),
  };
}

/** Spies on each handler of a registry (the module's own object), recording the event id of every run. */
export function spyOnRegistry(registry: HandlerRegistry): RunLog {
  const runs: string[] = [];
  for (const type of eventCatalog) {
    const spied = registry as unknown as Record<string, (event: AnyEvent, context: HandlerContext) => Promise<HandlerResult>>;
    const original = spied[type];
    if (!original) throw new Error(`no handler for ${type}`);
    vi.spyOn(spied, type).mockImplementation(async (event, context) => {
      runs.push(event.id);
      return original(event, context);
    });
  }
  return runLog(runs);
}

export function runLog(runs: string[]): RunLog {
  return { runs, count: (id) => (id === undefined ? runs.length : runs.filter((run) => run === id).length) };
}

/**
 * A registry for direct pipeline runs: each catalog type runs `body` (which may delay, throw or
 * hang), and a run counts as a side effect only once `body` returns, as a real effect commits.
 */
export function effectRegistry(
  body: (event: AnyEvent, context: HandlerContext) => Promise<void>,
): { registry: HandlerRegistry; effects: RunLog; started: RunLog } {
  const effects: string[] = [];
  const started: string[] = [];
  const handler = async (event: AnyEvent, context: HandlerContext): Promise<HandlerResult> => {
    started.push(event.id);
    await body(event, context);
    effects.push(event.id);
    return { outcome: `effect for ${event.id}` };
  };
  const registry = Object.fromEntries(eventCatalog.map((type) => [type, handler])) as unknown as HandlerRegistry;
  return { registry, effects: runLog(effects), started: runLog(started) };
}

export type { CatalogEventType, EventHandler };

/** Every item of a table (the raw attribute maps), sorted by key, for before/after comparisons. */
export async function scanTable(client: DynamoDBClient, table: string): Promise<string> {
  const items: unknown[] = [];
  let start: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return JSON.stringify(items.map((item) => JSON.stringify(item)).sort());
}
