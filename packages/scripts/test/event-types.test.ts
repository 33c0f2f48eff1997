import { eventCatalog, isCatalogEventType } from "@stripe-webhooks/core/catalog";
import { buildableTypes } from "@stripe-webhooks/stripe-fixtures/events";
import { describe, expect, it } from "vitest";
import { closestTypes, editDistance, typesOutsideCatalog } from "../src/event-types.ts";

/* The types `npm run trigger` sends, and how it finds what a mistyped one meant. */

const sendable = [...eventCatalog, ...typesOutsideCatalog];

describe("typesOutsideCatalog", () => {
  it("are all outside the catalog and all buildable from Stripe's fixtures", () => {
    expect(typesOutsideCatalog.filter((type) => isCatalogEventType(type))).toEqual([]);
    expect(buildableTypes(typesOutsideCatalog)).toEqual([...typesOutsideCatalog]);
  });
});

describe("editDistance", () => {
  it.each([
    ["", "", 0],
    ["abc", "", 3],
    ["invoice.paid", "invoice.paid", 0],
    ["checkout.session.complete", "checkout.session.completed", 1],
    ["invoice.payed", "invoice.paid", 2],
    ["kitten", "sitting", 3],
  ])("%j -> %j is %i", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe("closestTypes", () => {
  it("puts the catalog type a typo meant first", () => {
    expect(closestTypes("checkout.session.complete", sendable)[0]).toBe("checkout.session.completed");
    expect(closestTypes("invoice.payed", sendable)[0]).toBe("invoice.paid");
    expect(closestTypes("customer.subscription.update", sendable)[0]).toBe("customer.subscription.updated");
  });

  it("gives at most three, nearest first", () => {
    const closest = closestTypes("customer.subscription.create", sendable);
    expect(closest.length).toBeLessThanOrEqual(3);
    expect(closest[0]).toBe("customer.subscription.created");
  });

  it("suggests nothing for a value that resembles no type, or is far too long to be one", () => {
    expect(closestTypes("zzz", sendable)).toEqual([]);
    expect(closestTypes("x".repeat(100_000), sendable)).toEqual([]);
  });
});
