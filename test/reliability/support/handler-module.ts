/// <reference path="../../../packages/functions/sst-env.d.ts" />
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { eventCatalog, type CatalogEventType } from "@stripe-webhooks/core/catalog";
import type { EventHandler, HandlerContext, HandlerRegistry, HandlerResult } from "@stripe-webhooks/core/dispatch";
import { testAwsEnvironment } from "@stripe-webhooks/testing/engines";
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
 * The deployed Lambda entry (packages/functions/src/webhook.ts), freshly imported with the
 * environment SST gives it in Lambda, so its module-scope client, logger and `Resource` pick up
 * this engine and these secrets (a new import is a new deploy). Its example handlers are spied
 * on, so every run is counted.
 */
export async function loadLambdaHandler(settings: {
  endpoint: string;
  table: string;
  secrets: readonly string[];
  mode?: "test" | "live";
}): Promise<{ invoke: (event: LambdaFunctionURLEvent) => Promise<Answer>; runs: RunLog }> {
  vi.resetModules();
  Object.assign(process.env, testAwsEnvironment, {
    SST_RESOURCE_App: JSON.stringify({ name: "stripe-webhooks", stage: "reliability" }),
    SST_RESOURCE_StripeWebhookSecret: JSON.stringify({ type: "sst.sst.Secret", value: settings.secrets.join(",") }),
    SST_RESOURCE_Ledger: JSON.stringify({ type: "sst.sst.Linkable", name: settings.table }),
    STRIPE_MODE: settings.mode ?? "test",
    AWS_ENDPOINT_URL_DYNAMODB: settings.endpoint,
  });
  delete process.env.POWERTOOLS_DEV;
  delete process.env.POWERTOOLS_LOG_LEVEL;
  const { handler } = await import("../../../packages/functions/src/webhook.ts");
  // `sst/resource` is an external module: loaded once per process, it keeps the first links it
  // read. A second "deploy" with other secrets would silently test the old ones.
  const { Resource } = await import("sst/resource");
  if (Resource.StripeWebhookSecret.value !== settings.secrets.join(",")) {
    throw new Error("this process already loaded other SST links; use the pipeline directly for other secrets");
  }
  const { exampleHandlers } = await import("@stripe-webhooks/core/handlers");
  const runs = spyOnRegistry(exampleHandlers);
  return {
    runs,
    invoke: async (event) => {
      const result = (await handler(event)) as { statusCode?: number; headers?: Record<string, string>; body?: string };
      return { status: result.statusCode ?? 0, headers: result.headers ?? {}, body: result.body ?? "" };
    },
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
