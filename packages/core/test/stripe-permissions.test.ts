import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeStripeKeyPermissions, stripeKeyPermissions, stripeKeyPermissionsMarkdown } from "../src/stripe-permissions.ts";

/* The key's permissions have one source; README and preflight's message follow it. */

const root = join(import.meta.dirname, "../../..");

describe("the Stripe key's permissions", () => {
  it("are listed in README exactly as stripe-permissions.ts has them", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const block = /<!-- stripe-key-permissions: [^>]*-->\n([\s\S]*?)\n<!-- \/stripe-key-permissions -->/.exec(readme);
    expect(block, "README's generated permissions block").not.toBeNull();
    expect(block?.[1]).toBe(stripeKeyPermissionsMarkdown());
  });

  it("read as one phrase for messages, each once", () => {
    expect(describeStripeKeyPermissions()).toBe("Events: Read, Webhook Endpoints: Read and Subscriptions: Read");
    expect(new Set(stripeKeyPermissions.map((permission) => permission.code)).size).toBe(stripeKeyPermissions.length);
  });

  it("name the permission preflight asks for", () => {
    const preflight = readFileSync(join(root, "infra/preflight.ts"), "utf8");
    expect(preflight).toContain("describeStripeKeyPermissions()");
    expect(preflight).not.toMatch(/Events: Read/);
  });
});
