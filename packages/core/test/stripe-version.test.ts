import { readFileSync } from "node:fs";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { stripeApiVersion } from "../src/stripe-version.ts";

// The steps a mismatch calls for; README, "Upgrade Stripe's API version", explains each one.
const upgradeRunbook = (installed: string) =>
  [
    `The installed stripe package is built for API version ${installed}, but packages/core/src/stripe-version.ts pins ${stripeApiVersion}.`,
    "Upgrading the API version replaces nothing by itself; move it without losing an event:",
    `  1. Read Stripe's changelog from ${stripeApiVersion} to ${installed} for the event types in packages/core/src/catalog.ts;`,
    "     during the overlap the handler receives every event in both versions (the first to arrive is processed).",
    `  2. Set stripeApiVersion to "${installed}" in packages/core/src/stripe-version.ts.`,
    `  3. In infra/stage.ts add "${installed}" beside "${stripeApiVersion}" in each apiVersions list (never replace it in place).`,
    "  4. Deploy every stage: a second endpoint is created beside the old one and the function trusts both secrets.",
    "  5. Once the old endpoint has nothing left to retry (3 days in live mode), remove the old version from the lists and deploy.",
    "Or keep the previous stripe package until you do.",
  ].join("\n");

describe("the pinned Stripe API version", () => {
  it("is the API version of the installed stripe package", () => {
    expect(stripeApiVersion, upgradeRunbook(Stripe.API_VERSION)).toBe(Stripe.API_VERSION);
  });

  it("is a literal in its own file, so that upgrading the package cannot move it", () => {
    const source = readFileSync(new URL("../src/stripe-version.ts", import.meta.url), "utf8");
    expect(source).toContain(`export const stripeApiVersion = "${stripeApiVersion}" as const;`);
    expect(source).not.toMatch(/from\s+["']stripe["']/);
    expect(stripeApiVersion).toMatch(/^\d{4}-\d{2}-\d{2}\.[a-z]+$/);
  });
});
