import type { AttributeValue, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { ledgerTable } from "./ledger-table.ts";

/*
 * Staged effects: the DynamoDB writes a handler wants, committed by the pipeline in the same
 * transaction as the ledger's completion, which is conditioned on the claim still being this
 * run's. Either the event is recorded processed and every staged write lands, or nothing does
 * (a lost lease, a crash, a failed condition), so these effects happen exactly once.
 */

/** Every app item's key starts with this, so it can never be mistaken for a ledger item. */
export const effectKeyPrefix = "app#";

/** DynamoDB's limit on actions in one transaction, one of which is the ledger's completion. */
export const maxStagedEffects = 99;

/** A plain JavaScript item or key (marshalled with `@aws-sdk/util-dynamodb`); `pk` is the partition key. */
export type EffectItem = { [ledgerTable.partitionKey]: string } & Record<string, unknown>;

/** An optional condition on a staged write, in DynamoDB's expression syntax. */
export interface EffectCondition {
  condition?: string;
  names?: Record<string, string>;
  values?: Record<string, unknown>;
}

/** What a handler stages; nothing is written until the pipeline commits the event. */
export interface EffectStager {
  /** Writes (creates or replaces) an item. */
  put(item: EffectItem, options?: EffectCondition): void;
  /** Updates an item with an update expression, e.g. `SET #n = :n`. */
  update(key: EffectItem, update: { expression: string } & EffectCondition): void;
  /** Deletes an item. */
  delete(key: EffectItem, options?: EffectCondition): void;
  /** Requires a condition on an item without writing it; the whole commit fails if it does not hold. */
  check(key: EffectItem, check: { condition: string } & Omit<EffectCondition, "condition">): void;
  /** How many writes are staged. */
  readonly size: number;
}

/** Thrown when a handler stages something the pipeline cannot commit safely. */
export class InvalidEffectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidEffectError";
  }
}

/**
 * A stager for one run over `tableName`, and the transaction items it has collected. Keys must
 * start with {@link effectKeyPrefix} and each item may be staged once (DynamoDB refuses two
 * actions on one item in a transaction); more than {@link maxStagedEffects} writes are refused.
 */
export function createEffectStager(tableName: string | undefined): { stager: EffectStager; items: () => TransactWriteItem[] } {
  const items: TransactWriteItem[] = [];
  const keys = new Set<string>();

  // The table and key of an item about to be staged, once its key is checked.
  function target(item: EffectItem): { TableName: string; Key: Record<string, AttributeValue> } {
    if (tableName === undefined) throw new InvalidEffectError("Effects cannot be staged here: no ledger table is configured.");
    const pk = item[ledgerTable.partitionKey];
    if (typeof pk !== "string" || !pk.startsWith(effectKeyPrefix)) {
      throw new InvalidEffectError(
        `A staged effect's ${ledgerTable.partitionKey} must be a string starting with "${effectKeyPrefix}" ` +
          "(the ledger's own items share the table).",
      );
    }
    if (keys.has(pk)) throw new InvalidEffectError(`The item ${pk} is already staged in this run; combine the writes.`);
    if (items.length >= maxStagedEffects) {
      throw new InvalidEffectError(`At most ${maxStagedEffects} effects can be staged for one event.`);
    }
    keys.add(pk);
    return { TableName: tableName, Key: marshall({ [ledgerTable.partitionKey]: pk }) };
  }

  function expressionParts(options: EffectCondition | undefined) {
    if (!options) return {};
    return {
      ...(options.condition ? { ConditionExpression: options.condition } : {}),
      ...(options.names ? { ExpressionAttributeNames: options.names } : {}),
      ...(options.values ? { ExpressionAttributeValues: marshall(options.values, { removeUndefinedValues: true }) } : {}),
    };
  }

  const stager: EffectStager = {
    put(item, options) {
      const { TableName } = target(item);
      const Item = marshall(item, { removeUndefinedValues: true });
      items.push({ Put: { TableName, Item, ...expressionParts(options) } });
    },
    update(key, update) {
      items.push({ Update: { ...target(key), UpdateExpression: update.expression, ...expressionParts(update) } });
    },
    delete(key, options) {
      items.push({ Delete: { ...target(key), ...expressionParts(options) } });
    },
    check(key, check) {
      items.push({ ConditionCheck: { ...target(key), ...expressionParts(check), ConditionExpression: check.condition } });
    },
    get size() {
      return items.length;
    },
  };
  return { stager, items: () => [...items] };
}
