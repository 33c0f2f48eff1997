/* What the bench compares: our handler, three baselines, and import-only probes. */

export type VariantName = "ours" | "floor" | "naive" | "powertools";

export interface Variant {
  name: VariantName;
  /** The handler module, relative to the repository root. */
  entry: string;
  /** The partition key of the table it writes: ours' ledger shape, or Powertools' default. */
  keyAttribute: "pk" | "id";
}

export const variants: readonly Variant[] = [
  { name: "ours", entry: "packages/functions/src/webhook.ts", keyAttribute: "pk" },
  { name: "floor", entry: "bench/handlers/floor.ts", keyAttribute: "pk" },
  { name: "naive", entry: "bench/handlers/naive.ts", keyAttribute: "pk" },
  { name: "powertools", entry: "bench/handlers/powertools.ts", keyAttribute: "id" },
];

export type ProbeName = "stripe" | "logger" | "dynamodb";

/** Single dependencies of ours, bundled alone, to attribute its import time. */
export const probes: readonly { name: ProbeName; entry: string }[] = [
  { name: "stripe", entry: "bench/probes/stripe.ts" },
  { name: "logger", entry: "bench/probes/logger.ts" },
  { name: "dynamodb", entry: "bench/probes/dynamodb.ts" },
];

/** A record with one entry per variant. */
export function byVariant<T>(make: (name: VariantName) => T): Record<VariantName, T> {
  return Object.fromEntries(variants.map((v) => [v.name, make(v.name)])) as Record<VariantName, T>;
}
