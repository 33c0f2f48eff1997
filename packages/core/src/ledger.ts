import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
} from "@aws-sdk/client-dynamodb";
import { convertToAttr, marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { effectKeyPrefix, InvalidEffectError, type EffectItem } from "./effects.ts";
import { EffectConditionFailedError, LedgerRejectedError, LedgerUnavailableError } from "./errors.ts";
import { ledgerTable } from "./ledger-table.ts";
import { ledgerRetentionDays, leaseSeconds } from "./limits.ts";
import { scanAll } from "./scan.ts";

/*
 * The ledger: one DynamoDB item per Stripe event id, so each event takes effect once however
 * often Stripe delivers it. A delivery claims the event with one conditional write; the claim
 * carries a lease so a crashed or timed-out delivery cannot block the event forever, and the
 * claim's attempt number fences the final write so a delivery whose lease was taken over never
 * overwrites the newer one's result.
 */

/**
 * Where an event stands: waiting in the stage's queue, being handled, handled, handled with an
 * error, or not ours to handle.
 */
export type LedgerStatus = "queued" | "processing" | "processed" | "failed" | "ignored";

/** The facts about an event the ledger records, taken from its verified envelope. */
export interface LedgerEvent {
  id: string;
  type: string;
  livemode: boolean;
  apiVersion: string | null;
  /** The connected account, on events from Stripe Connect accounts. */
  account?: string;
  /** Stripe's `created`, in epoch seconds. */
  created: number;
}

/** One event's ledger item, as read back. Times are ISO 8601 strings. */
export interface LedgerEntry {
  id: string;
  type: string;
  status: LedgerStatus;
  /** Deliveries that claimed the event, including the current one. */
  attempts: number;
  firstSeenAt: string;
  lastAttemptAt?: string;
  processedAt?: string;
  /** Present while `processing`: until then no other delivery may claim the event. */
  leaseExpiresAt?: string;
  livemode?: boolean;
  apiVersion?: string | null;
  account?: string;
  /** Stripe's `created` for the event. */
  eventCreatedAt?: string;
  /** The summary of the last handler failure (never a secret, never the payload). */
  lastError?: string;
  /** What the handler reported doing. */
  outcome?: string;
  /** Runs an operator forced on an already settled event (`npm run replay -- --force`). */
  forcedRuns?: number;
  lastForcedAt?: string;
  /** When DynamoDB's TTL may delete the item, in epoch seconds. */
  expiresAt?: number;
  /** When the webhook (or the reconciler) last sent the event to the queue. */
  queuedAt?: string;
  /** Runs the queue consumer put back because Stripe's API asked to back off: not failures. */
  deferrals?: number;
  /** When the consumer moved the event to the dead-letter queue (cleared by nothing: history). */
  deadLetteredAt?: string;
}

/** Another delivery got there first: the event is done, or someone holds an unexpired lease. */
export type Contended =
  | { kind: "duplicate"; entry: LedgerEntry }
  /** `entry` is undefined when the item changed between the write and the fallback read. */
  | { kind: "in_progress"; entry: LedgerEntry | undefined };

/** The result of claiming an event for handling. */
export type ClaimResult = { kind: "claimed"; entry: LedgerEntry } | Contended;

/** The result of recording an event nobody handles. */
export type IgnoreResult = { kind: "recorded"; entry: LedgerEntry } | Contended;

/** The result of recording an event sent to the queue: recorded, or the ledger already had it past `failed`. */
export type QueueRecordResult = { kind: "recorded"; entry: LedgerEntry } | { kind: "exists"; entry: LedgerEntry | undefined };

/** `lease_lost`: the claim expired and another delivery took the event over; nothing was written. */
export type ReleaseResult = "recorded" | "lease_lost";

/** Filters for {@link Ledger.list}. */
export interface LedgerFilter {
  status?: LedgerStatus;
  type?: string;
  /** At most this many entries, the newest first. */
  limit?: number;
}

/**
 * The ledger's verbs: the one way to the ledger table. Every DynamoDB failure surfaces as
 * {@link LedgerUnavailableError}, except a request DynamoDB rejects as invalid, which is
 * {@link LedgerRejectedError} (see {@link ledgerFailure}).
 */
export interface Ledger {
  /**
   * Claims a new, failed, or abandoned (lease expired) event: `processing`, attempts + 1. With
   * `force` (an operator's replay), a processed or ignored event is claimed too and the run is
   * recorded as forced; an unexpired lease still wins, so a forced run never overlaps another.
   */
  claim(event: LedgerEvent, options?: { force?: boolean }): Promise<ClaimResult>;
  /** Records a verified event of a type with no handler as `ignored`, under the same rules. */
  recordIgnored(event: LedgerEvent): Promise<IgnoreResult>;
  /**
   * Marks a claimed event `processed` with the handler's outcome. With staged `effects`, they are
   * committed in the same transaction, conditioned on the claim: all of them land with the
   * completion or none does (`lease_lost`). Throws {@link EffectConditionFailedError} when an
   * effect's own condition does not hold (nothing is written then either).
   */
  complete(claim: LedgerEntry, outcome: string, effects?: readonly TransactWriteItem[]): Promise<ReleaseResult>;
  /** Marks a claimed event `failed` with an error summary, so the next delivery may claim it. */
  fail(claim: LedgerEntry, errorSummary: string): Promise<ReleaseResult>;
  /**
   * One event's entry, read consistently; undefined when the ledger has never seen it (or its
   * TTL has removed it).
   */
  get(eventId: string): Promise<LedgerEntry | undefined>;
  /**
   * The ledger's events, newest first (by first delivery), optionally narrowed by status and
   * type. Meant for operators and the local tools: it scans the whole table with strongly
   * consistent reads, which is fine for a ledger of days or weeks but not a request path.
   */
  list(filter?: LedgerFilter): Promise<LedgerEntry[]>;
  /**
   * One app item (what handlers' staged effects write, its key starting `app#`) as a plain
   * object, read consistently; undefined when there is none. A ledger entry is never handed out
   * this way: any other key is an {@link InvalidEffectError}.
   */
  readAppItem(key: EffectItem): Promise<Record<string, unknown> | undefined>;
  /**
   * Records an event just sent to the queue as `queued`, unless the ledger already has it in any
   * status but `failed` (a consumer may have claimed it already, or a duplicate got there first).
   * Never counts an attempt: only a claim does.
   */
  recordQueued(event: LedgerEvent): Promise<QueueRecordResult>;
  /**
   * Counts one run of a queued event that Stripe's API made back off (`deferrals`), so the
   * consumer's dead-letter count leaves it out, and returns the count (undefined when the ledger
   * has no such event). The event stays claimable.
   */
  recordDeferral(eventId: string): Promise<number | undefined>;
  /**
   * Ends the lease of a claim whose run is known to be gone (the local receiver, restarting on a
   * data directory only it can use, after a kill -9), so the next run may claim the event at once
   * instead of waiting out the lease. Nothing else changes; an event no longer `processing` is left.
   */
  releaseLease(eventId: string): Promise<void>;
  /** Marks a failed event as moved to the dead-letter queue, its deferrals counted afresh for a redrive. */
  recordDeadLettered(eventId: string): Promise<void>;
}

/** Tuning of a ledger and what its engine can do; the defaults are the product's. */
export interface LedgerOptions {
  /** The current time in epoch milliseconds. */
  now?: () => number;
  leaseSeconds?: number;
  retentionDays?: number;
  /**
   * Whether the engine commits TransactWriteItems (true, the default: DynamoDB has them). Without
   * them (dynalite, the local receiver's embedded engine) a handler's staged effects are written
   * one by one, then the completion; a crash in between can repeat the effects, as without staging.
   */
  transactions?: boolean;
}

/**
 * Whether the ledger holds the event as done (`processed` or `ignored`): a delivery, the
 * reconciler or a replay leaves it alone unless an operator forces a run. The one definition of
 * "settled", for every caller holding an entry.
 */
export function isSettled(entry: LedgerEntry | undefined): entry is LedgerEntry & { status: "processed" | "ignored" } {
  return entry?.status === "processed" || entry?.status === "ignored";
}

/**
 * Whether a run holds the event's claim at `nowMs` (epoch milliseconds): `processing` under a
 * lease that has not expired. Without one, the next delivery, reconcile run or replay may take
 * the event over. The one definition of "lease live", the claim's condition in terms of an entry.
 */
export function isLeaseLive(entry: LedgerEntry | undefined, nowMs: number): boolean {
  if (entry?.status !== "processing" || entry.leaseExpiresAt === undefined) return false;
  return Date.parse(entry.leaseExpiresAt) > nowMs;
}

type Item = Record<string, AttributeValue>;

/** Plain values for an expression, marshalled as they are sent; undefined ones are left out. */
type Values = Record<string, unknown>;

/**
 * A ledger over `tableName` (created from `ledgerCreateTableInput`). Claims are single
 * conditional writes that ask DynamoDB for the existing item when the condition fails
 * (`ReturnValuesOnConditionCheckFailure`), so a duplicate costs one request; engines that ignore
 * that option (dynalite) get one consistent read instead.
 */
export function createLedger(client: DynamoDBClient, tableName: string, options: LedgerOptions = {}): Ledger {
  const now = options.now ?? Date.now;
  const lease = (options.leaseSeconds ?? leaseSeconds) * 1000;
  const retention = (options.retentionDays ?? ledgerRetentionDays) * 86_400;
  const transactions = options.transactions ?? true;
  const expiresAt = (nowMs: number): number => Math.floor(nowMs / 1000) + retention;

  async function write(
    event: LedgerEvent,
    status: "processing" | "ignored",
    force = false,
  ): Promise<{ kind: "written"; entry: LedgerEntry } | Contended> {
    const nowMs = now();
    const { sets, values } = eventAttributes(event, nowMs);
    Object.assign(values, { ":status": status, ":processing": "processing", ":one": 1, ":now": nowMs });
    sets.push("#status = :status", "#attempts = if_not_exists(#attempts, :zero) + :one", "#lastAttemptAt = :nowIso");
    if (status === "processing") {
      sets.push("#leaseExpiresAt = :lease");
      values[":lease"] = nowMs + lease;
    }
    if (force) {
      sets.push("#forcedRuns = if_not_exists(#forcedRuns, :zero) + :one", "#lastForcedAt = :nowIso");
    }
    const update = `SET ${sets.join(", ")}${status === "processing" ? "" : " REMOVE #leaseExpiresAt"}`;
    // Claimable: never seen, failed last time, or claimed by a delivery that ran out of time
    // (its lease expired) without recording a result. Forced: anything but a live lease.
    const condition = force
      ? `attribute_not_exists(#${ledgerTable.partitionKey}) OR #status <> :processing OR #leaseExpiresAt <= :now`
      : `attribute_not_exists(#${ledgerTable.partitionKey}) OR #status = :failed OR #status = :queued` +
        " OR (#status = :processing AND #leaseExpiresAt <= :now)";
    // DynamoDB refuses a request whose values an expression does not use, and only this one uses them.
    if (!force) Object.assign(values, { ":failed": "failed", ":queued": "queued" });
    const result = await conditionalUpdate("claim", event.id, condition, update, values);
    return result.written ? { kind: "written", entry: result.entry } : contended(result.entry);
  }

  // One conditional write of an event's item that returns the item either way: as written, or as
  // it stood when the condition failed (asked of DynamoDB, or read where the engine ignores that).
  async function conditionalUpdate(
    operation: string,
    eventId: string,
    condition: string,
    update: string,
    values: Values,
  ): Promise<{ written: true; entry: LedgerEntry } | { written: false; entry: LedgerEntry | undefined }> {
    const key = eventKey(eventId);
    try {
      const result = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key,
          ...expression(`${condition} ${update}`, values),
          ConditionExpression: condition,
          UpdateExpression: update,
          ReturnValues: "ALL_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      const entry = toEntry(result.Attributes);
      if (!entry) throw new Error("UpdateItem returned no item");
      return { written: true, entry };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw ledgerFailure(operation, "UpdateItem", error);
      return { written: false, entry: toEntry(error.Item ?? (await read(key))) };
    }
  }

  // What every write of an event's item sets from its envelope: the facts, the first sighting and
  // the TTL, with `:nowIso` and `:zero` for the caller's own clauses.
  function eventAttributes(event: LedgerEvent, nowMs: number): { sets: string[]; values: Values } {
    const values: Values = {
      ":type": event.type,
      ":zero": 0,
      ":nowIso": new Date(nowMs).toISOString(),
      ":livemode": event.livemode,
      ":apiVersion": event.apiVersion,
      ":created": new Date(event.created * 1000).toISOString(),
      ":ttl": expiresAt(nowMs),
      ":account": event.account,
    };
    const sets = [
      "#type = :type",
      "#firstSeenAt = if_not_exists(#firstSeenAt, :nowIso)",
      "#livemode = :livemode",
      "#apiVersion = :apiVersion",
      "#eventCreatedAt = :created",
      `#${ledgerTable.ttlAttribute} = :ttl`,
    ];
    if (event.account !== undefined) sets.push("#account = :account");
    return { sets, values };
  }

  async function read(key: Item, operation = "read"): Promise<Item | undefined> {
    try {
      const result = await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
      return result.Item;
    } catch (error) {
      throw ledgerFailure(operation, "GetItem", error);
    }
  }

  async function release(
    claim: LedgerEntry,
    sets: string[],
    values: Values,
    effects: readonly TransactWriteItem[] = [],
  ): Promise<ReleaseResult> {
    const update = `SET ${sets.join(", ")}, #${ledgerTable.ttlAttribute} = :ttl REMOVE #leaseExpiresAt`;
    // Fencing: only the delivery whose claim is still the current one may record the result.
    const condition = "#status = :processing AND #attempts = :attempts";
    const completion = {
      TableName: tableName,
      Key: eventKey(claim.id),
      ConditionExpression: condition,
      UpdateExpression: update,
      ...expression(`${condition} ${update}`, { ...values, ":processing": "processing", ":attempts": claim.attempts, ":ttl": expiresAt(now()) }),
    };
    if (effects.length === 0) return releaseAlone(completion);
    return transactions ? commit(completion, effects) : commitSequentially(completion, effects);
  }

  // One transaction: the fenced completion first, then the handler's effects. DynamoDB reports a
  // cancellation reason per action, in order, so the first tells a lost lease from an effect's
  // own condition failing.
  async function commit(
    completion: NonNullable<TransactWriteItem["Update"]>,
    effects: readonly TransactWriteItem[],
  ): Promise<ReleaseResult> {
    try {
      await client.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: completion }, ...effects] }));
      return "recorded";
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw ledgerFailure("commit", "TransactWriteItems", error);
      const reasons = error.CancellationReasons ?? [];
      // An action DynamoDB found invalid (an effect's item over the size limit, say) cancels the
      // whole transaction with this reason: the request's fault, like a ValidationException.
      if (reasons.some((reason) => reason.Code === "ValidationError")) {
        throw new LedgerRejectedError("commit", "TransactWriteItems", error);
      }
      if (reasons[0]?.Code === "ConditionalCheckFailed") return "lease_lost";
      const failed = reasons.findIndex((reason, index) => index > 0 && reason.Code === "ConditionalCheckFailed");
      // The index among the handler's effects, not the transaction's actions.
      if (failed > 0) throw new EffectConditionFailedError(failed - 1);
      throw new LedgerUnavailableError("commit", error);
    }
  }

  async function releaseAlone(completion: NonNullable<TransactWriteItem["Update"]>): Promise<ReleaseResult> {
    try {
      await client.send(new UpdateItemCommand(completion));
      return "recorded";
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return "lease_lost";
      throw ledgerFailure("release", "UpdateItem", error);
    }
  }

  async function commitSequentially(
    completion: NonNullable<TransactWriteItem["Update"]>,
    effects: readonly TransactWriteItem[],
  ): Promise<ReleaseResult> {
    // The claim is checked first, so a run that lost its lease writes nothing; it can still be
    // lost between the check and the completion, which only a transaction rules out.
    const current = toEntry(await read(completion.Key ?? {}));
    const attempts = completion.ExpressionAttributeValues?.[":attempts"]?.N;
    if (current?.status !== "processing" || String(current.attempts) !== attempts) return "lease_lost";
    for (const [index, effect] of effects.entries()) {
      try {
        if (effect.Put) await client.send(new PutItemCommand(effect.Put));
        else if (effect.Update) await client.send(new UpdateItemCommand(effect.Update));
        else if (effect.Delete) await client.send(new DeleteItemCommand(effect.Delete));
        else throw new Error("Condition checks need a transaction; run against DynamoDB or DynamoDB Local.");
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw new EffectConditionFailedError(index);
        throw ledgerFailure("effect write", effect.Put ? "PutItem" : effect.Update ? "UpdateItem" : "DeleteItem", error);
      }
    }
    return releaseAlone(completion);
  }

  // Small updates of one attribute or two on an existing entry; a missing entry is left missing.
  // Returns the attributes it set, or undefined when the condition did not hold.
  async function annotate(eventId: string, operation: string, update: string, condition: string, values: Values): Promise<Values | undefined> {
    try {
      const result = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: eventKey(eventId),
          UpdateExpression: update,
          ConditionExpression: condition,
          ...expression(`${condition} ${update}`, values),
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return unmarshall(result.Attributes ?? {});
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw ledgerFailure(operation, "UpdateItem", error);
    }
  }

  return {
    async get(eventId) {
      return toEntry(await read(eventKey(eventId)));
    },
    async list(filter = {}) {
      const conditions = [`begins_with(#${ledgerTable.partitionKey}, :eventPrefix)`];
      if (filter.status !== undefined) conditions.push("#status = :status");
      if (filter.type !== undefined) conditions.push("#type = :type");
      const condition = conditions.join(" AND ");
      const values = { ":eventPrefix": "evt_", ":status": filter.status, ":type": filter.type };
      let items: Item[];
      try {
        items = await scanAll(client, { TableName: tableName, FilterExpression: condition, ...expression(condition, values), ConsistentRead: true });
      } catch (error) {
        throw ledgerFailure("list", "Scan", error);
      }
      const entries = items.map(toEntry).filter((entry): entry is LedgerEntry => entry !== undefined);
      entries.sort((a, b) => b.firstSeenAt.localeCompare(a.firstSeenAt) || b.id.localeCompare(a.id));
      return filter.limit === undefined ? entries : entries.slice(0, filter.limit);
    },
    async readAppItem(key) {
      const pk = key[ledgerTable.partitionKey];
      if (typeof pk !== "string" || !pk.startsWith(effectKeyPrefix)) {
        throw new InvalidEffectError(`A handler reads only app items, whose key starts with "${effectKeyPrefix}".`);
      }
      const item = await read(marshall({ [ledgerTable.partitionKey]: pk }), "app item read");
      return item ? unmarshall(item) : undefined;
    },
    async recordQueued(event) {
      const { sets, values } = eventAttributes(event, now());
      Object.assign(values, { ":queued": "queued", ":failed": "failed" });
      // Never an attempt: only a claim counts one.
      sets.push("#status = :queued", "#attempts = if_not_exists(#attempts, :zero)", "#queuedAt = :nowIso");
      const update = `SET ${sets.join(", ")}`;
      const condition = `attribute_not_exists(#${ledgerTable.partitionKey}) OR #status = :failed`;
      const result = await conditionalUpdate("queue record", event.id, condition, update, values);
      return result.written ? { kind: "recorded", entry: result.entry } : { kind: "exists", entry: result.entry };
    },
    async recordDeferral(eventId) {
      const update = "SET #deferrals = if_not_exists(#deferrals, :zero) + :one";
      const set = await annotate(eventId, "deferral", update, `attribute_exists(#${ledgerTable.partitionKey})`, { ":zero": 0, ":one": 1 });
      const count = set?.deferrals;
      return typeof count === "number" ? count : undefined;
    },
    async releaseLease(eventId) {
      await annotate(eventId, "lease release", "SET #leaseExpiresAt = :now", "#status = :processing", {
        ":now": now(),
        ":processing": "processing",
      });
    },
    async recordDeadLettered(eventId) {
      // The deferrals are counted afresh: a redriven message starts SQS's receive count at 1 again.
      await annotate(eventId, "dead-letter record", "SET #deadLetteredAt = :nowIso, #deferrals = :zero", "#status = :failed", {
        ":nowIso": new Date(now()).toISOString(),
        ":failed": "failed",
        ":zero": 0,
      });
    },
    async claim(event, options) {
      const result = await write(event, "processing", options?.force ?? false);
      return result.kind === "written" ? { kind: "claimed", entry: result.entry } : result;
    },
    async recordIgnored(event) {
      const result = await write(event, "ignored");
      return result.kind === "written" ? { kind: "recorded", entry: result.entry } : result;
    },
    complete(claim, outcome, effects) {
      const sets = ["#status = :processed", "#processedAt = :nowIso", "#outcome = :outcome"];
      const values = {
        ":processed": "processed",
        ":nowIso": new Date(now()).toISOString(),
        // A handler's outcome is meant to be one line; a runaway one must not hit the item size limit.
        ":outcome": outcome.slice(0, 1000),
      };
      return release(claim, sets, values, effects);
    },
    fail(claim, errorSummary) {
      return release(claim, ["#status = :failed", "#lastError = :error"], { ":failed": "failed", ":error": errorSummary });
    },
  };
}

/**
 * The ledger's error for a failed DynamoDB request: {@link LedgerRejectedError} when DynamoDB
 * rejected it as invalid (`ValidationException`: a key or item over its size limit, a value of
 * the wrong type, a malformed expression), which no retry can fix, and
 * {@link LedgerUnavailableError} for anything else (throttling, a missing table, the network).
 * `operation` is the ledger's step, `dynamoOperation` the request DynamoDB received.
 */
export function ledgerFailure(
  operation: string,
  dynamoOperation: string,
  error: unknown,
): LedgerRejectedError | LedgerUnavailableError {
  if (error instanceof Error && error.name === "ValidationException") {
    return new LedgerRejectedError(operation, dynamoOperation, error);
  }
  return new LedgerUnavailableError(operation, error);
}

function eventKey(eventId: string): Item {
  return marshall({ [ledgerTable.partitionKey]: eventId });
}

/**
 * An expression's names and values as DynamoDB takes them. Every attribute goes through a
 * placeholder named after it (`#status` for `status`): `type` and `status` are reserved words,
 * and one rule for all is easier to read than a list of exceptions. DynamoDB refuses names and
 * values an expression does not use, so only the placeholders found in the text are passed, and
 * undefined values are left out.
 */
function expression(text: string, values: Values): { ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Item } {
  const attributeValues: Item = {};
  for (const [placeholder, value] of Object.entries(values)) {
    if (value !== undefined) attributeValues[placeholder] = expressionValue(value);
  }
  return { ExpressionAttributeNames: placeholderNames(text), ExpressionAttributeValues: attributeValues };
}

/*
 * Every delivery's claim and completion carry a dozen expression values, all strings, numbers or
 * booleans. util-dynamodb's general converter weighs on the warm path (bench:compare), so those
 * three are written directly; anything else still goes through it.
 */
function expressionValue(value: unknown): AttributeValue {
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") return { N: String(value) };
  if (typeof value === "boolean") return { BOOL: value };
  return convertToAttr(value);
}

// The ledger writes a handful of distinct expressions, each on every delivery: their names are
// worked out once per text rather than per request.
const namesByExpression = new Map<string, Record<string, string>>();

function placeholderNames(text: string): Record<string, string> {
  const known = namesByExpression.get(text);
  if (known) return known;
  const names: Record<string, string> = {};
  for (const placeholder of new Set(text.match(/#\w+/g))) names[placeholder] = placeholder.slice(1);
  // Frozen: the SDK only reads it, and one shared object must never change under another request.
  namesByExpression.set(text, Object.freeze(names));
  return names;
}

function contended(entry: LedgerEntry | undefined): Contended {
  if (isSettled(entry)) return { kind: "duplicate", entry };
  // The write's condition failed on a `processing` item, so another delivery holds an unexpired
  // lease; or, only after the fallback read, the item changed in between. Either way another
  // delivery is at work, and Stripe's next retry will find the event settled.
  return { kind: "in_progress", entry };
}

const statuses: readonly unknown[] = ["queued", "processing", "processed", "failed", "ignored"] satisfies LedgerStatus[];

function isStatus(value: unknown): value is LedgerStatus {
  return statuses.includes(value);
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const count = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined);

/**
 * How each optional field of an entry reads from its stored attribute of the same name, in the
 * entry's order; a value of another type is left out. The lease is stored in epoch milliseconds
 * (the claim's condition compares it with the clock) and read as an ISO string.
 */
type OptionalField = Exclude<keyof LedgerEntry, "id" | "type" | "status" | "attempts" | "firstSeenAt">;

const optionalFields: { readonly [K in OptionalField]-?: (value: unknown) => LedgerEntry[K] | undefined } = {
  lastAttemptAt: text,
  processedAt: text,
  leaseExpiresAt: (value) => (typeof value === "number" ? new Date(value).toISOString() : undefined),
  livemode: (value) => (typeof value === "boolean" ? value : undefined),
  apiVersion: (value) => (value === undefined ? undefined : (text(value) ?? null)),
  account: text,
  eventCreatedAt: text,
  lastError: text,
  outcome: text,
  forcedRuns: count,
  lastForcedAt: text,
  expiresAt: count,
  queuedAt: text,
  deferrals: count,
  deadLetteredAt: text,
};

const optionalFieldNames = Object.keys(optionalFields) as OptionalField[];

function toEntry(item: Item | undefined): LedgerEntry | undefined {
  if (!item) return undefined;
  let stored: Values;
  try {
    stored = unmarshall(item);
  } catch {
    // A number past JavaScript's precision: never written by the ledger, so not an entry.
    return undefined;
  }
  const { [ledgerTable.partitionKey]: id, type, status, attempts, firstSeenAt } = stored;
  // Not an event entry (another item kind, or a hand-edited item): skip it rather than guess.
  if (typeof id !== "string" || typeof type !== "string" || typeof firstSeenAt !== "string") return undefined;
  if (!isStatus(status) || typeof attempts !== "number" || !Number.isInteger(attempts)) return undefined;
  const entry: LedgerEntry = { id, type, status, attempts, firstSeenAt };
  for (const name of optionalFieldNames) {
    const value = optionalFields[name](stored[name]);
    // Absent attributes stay absent rather than present-but-undefined, so entries compare and print cleanly.
    if (value !== undefined) Object.assign(entry, { [name]: value });
  }
  return entry;
}
