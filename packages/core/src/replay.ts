import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type Stripe from "stripe";
import type { WebhookApp } from "./app.ts";
import { getLedgerEntry, type LedgerEntry } from "./ledger.ts";
import type { EventResult } from "./process-event.ts";
import { callStripe } from "./stripe-api.ts";

/** How a replay ended: refused because the event is settled, or run through `processEvent`. */
export type ReplayResult =
  | { kind: "refused"; reason: "already-settled"; entry: LedgerEntry }
  | { kind: "ran"; forced: boolean; result: EventResult };

/** What a replay needs; the local tool passes its own. */
export interface ReplayDependencies {
  stripe: Stripe;
  app: WebhookApp;
  dynamo: DynamoDBClient;
}

/**
 * Replays one event by id: fetches it from Stripe's API (authentic, so no signature) and runs it
 * through `processEvent` with source `replay`. A failed or missing event is processed as any
 * delivery would be; a processed or ignored one is refused unless `force` is set, in which case
 * it runs again and the ledger records the run as forced. Stripe's errors surface as
 * `StripeCallError`s (an unknown id is a `StripeRequestRefusedError`).
 */
export async function replayEvent(
  deps: ReplayDependencies,
  eventId: string,
  options: { force?: boolean } = {},
): Promise<ReplayResult> {
  const event = await callStripe("events.retrieve", () => deps.stripe.events.retrieve(eventId));
  const force = options.force ?? false;
  const entry = await getLedgerEntry(deps.dynamo, deps.app.stage().tableName, event.id);
  const settled = entry?.status === "processed" || entry?.status === "ignored";
  if (settled && !force) return { kind: "refused", reason: "already-settled", entry };
  const result = await deps.app.processEvent(event, "replay", { force: settled && force });
  return { kind: "ran", forced: settled && force, result };
}
