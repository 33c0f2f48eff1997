/* What the bench compares: our handler and three baselines, each a handler module of its own. */

export type VariantName = "ours" | "floor" | "naive" | "powertools";

export interface Variant {
  name: VariantName;
  /** The handler module, relative to the repository root. */
  entry: string;
  /** The partition key of the table it writes: ours' ledger shape, or Powertools' default. */
  keyAttribute: "pk" | "id";
}

export const variants: readonly Variant[] = [
  { name: "ours", entry: "bench/shared/handlers/ours.ts", keyAttribute: "pk" },
  { name: "floor", entry: "bench/shared/handlers/floor.ts", keyAttribute: "pk" },
  { name: "naive", entry: "bench/shared/handlers/naive.ts", keyAttribute: "pk" },
  { name: "powertools", entry: "bench/shared/handlers/powertools.ts", keyAttribute: "id" },
];

/** The entry SST deploys, which ours' bench entry stands in for (bench/bundle compares the two). */
export const deployedEntry = "packages/functions/src/webhook.ts";

export const variantNames: readonly VariantName[] = variants.map((v) => v.name);

export function variant(name: VariantName): Variant {
  const found = variants.find((v) => v.name === name);
  if (!found) throw new Error(`no variant ${name}`);
  return found;
}

/** A record with one entry per variant. */
export function byVariant<T>(make: (name: VariantName) => T): Record<VariantName, T> {
  return Object.fromEntries(variants.map((v) => [v.name, make(v.name)])) as Record<VariantName, T>;
}
