import { invalidParam } from "./answers.ts";
import { parseInteger, type ParsedQuery } from "./query.ts";

/*
 * Stripe's list conventions, shared by every list endpoint: `limit`, the positional cursors
 * `starting_after` / `ending_before`, and pages cut from a newest-first list.
 */

const defaultListLimit = 10;
const maxListLimit = 100;

export type CursorParam = "starting_after" | "ending_before";

/** `limit`: default 10, 1 to 100, otherwise a 400. */
export function parseLimit(query: ParsedQuery): number {
  const raw = query.scalars.get("limit");
  if (raw === undefined) return defaultListLimit;
  const limit = parseInteger("limit", raw);
  if (limit < 1) throw invalidParam("limit", "This value must be greater than or equal to 1.");
  if (limit > maxListLimit) throw invalidParam("limit", `This value must be less than or equal to ${maxListLimit}.`);
  return limit;
}

/** The cursor a request pages from, if any; Stripe refuses both at once. */
export function parseCursor(query: ParsedQuery): { id: string; param: CursorParam } | undefined {
  const startingAfter = query.scalars.get("starting_after");
  const endingBefore = query.scalars.get("ending_before");
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw invalidParam("ending_before", "You may only specify one of these parameters: ending_before, starting_after.");
  }
  if (startingAfter !== undefined) return { id: startingAfter, param: "starting_after" };
  if (endingBefore !== undefined) return { id: endingBefore, param: "ending_before" };
  return undefined;
}

/**
 * One page of an already filtered, newest-first list, as Stripe cuts it: the first `limit`
 * items, those right after a `starting_after` cursor, or the `limit` right before an
 * `ending_before` cursor (towards newer items, still newest first). Cursors are positions
 * (`newestFirst` orders any two items), so a cursor the filters exclude still works.
 */
export function pageOf<T>(
  matching: readonly T[],
  limit: number,
  cursor: { item: T; param: CursorParam } | undefined,
  newestFirst: (a: T, b: T) => number,
): { page: T[]; hasMore: boolean } {
  if (cursor === undefined) return { page: matching.slice(0, limit), hasMore: matching.length > limit };
  if (cursor.param === "starting_after") {
    const after = matching.filter((item) => newestFirst(cursor.item, item) < 0);
    return { page: after.slice(0, limit), hasMore: after.length > limit };
  }
  const before = matching.filter((item) => newestFirst(item, cursor.item) < 0);
  return { page: before.slice(Math.max(before.length - limit, 0)), hasMore: before.length > limit };
}
