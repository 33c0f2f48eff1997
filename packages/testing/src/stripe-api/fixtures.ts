import { readFileSync } from "node:fs";
import type { StripeObject } from "./answers.ts";

/** Stripe's example objects by name (packages/stripe-fixtures, see its README). */
export type Fixtures = Readonly<Record<string, StripeObject>>;

export function loadFixtures(path: string): Fixtures {
  return (JSON.parse(readFileSync(path, "utf8")) as { resources: Record<string, StripeObject> }).resources;
}

/** A fresh copy of the example object `name`. */
export function fixtureObject(fixtures: Fixtures, name: string): StripeObject {
  const object = fixtures[name];
  if (object === undefined) throw new Error(`The Stripe fixtures hold no "${name}" object.`);
  return structuredClone(object);
}
