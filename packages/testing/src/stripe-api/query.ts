import { invalidParam, unknownParameter } from "./answers.ts";

/** The query as Stripe reads it: `a=1`, `a[]=x` / `a[0]=x` (arrays), `a[b]=1` (hashes). */
export interface ParsedQuery {
  scalars: Map<string, string>;
  arrays: Map<string, string[]>;
  hashes: Map<string, Map<string, string>>;
}

/** Parses a GET's query and refuses any parameter not in `known`, as Stripe answers 400. */
export function readQuery(query: URLSearchParams, known: readonly string[]): ParsedQuery {
  const parsed: ParsedQuery = { scalars: new Map(), arrays: new Map(), hashes: new Map() };
  for (const [key, value] of query) {
    const match = /^([a-z_]+)(?:\[([a-z_]*|\d+)\])?$/.exec(key);
    if (!match) throw unknownParameter(key);
    const [, name = key, inner] = match;
    if (inner === undefined) {
      parsed.scalars.set(name, value);
    } else if (inner === "" || /^\d+$/.test(inner)) {
      parsed.arrays.set(name, [...(parsed.arrays.get(name) ?? []), value]);
    } else {
      const hash = parsed.hashes.get(name) ?? new Map<string, string>();
      hash.set(inner, value);
      parsed.hashes.set(name, hash);
    }
  }
  const names = [...parsed.scalars.keys(), ...parsed.arrays.keys(), ...parsed.hashes.keys()];
  const unknown = names.find((name) => !known.includes(name));
  if (unknown !== undefined) throw unknownParameter(unknown);
  return parsed;
}

export function parseInteger(param: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw invalidParam(param, `Invalid integer: ${value}`);
  return Number(value);
}

export function parseBoolean(param: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw invalidParam(param, `Invalid boolean: ${value}`);
}
