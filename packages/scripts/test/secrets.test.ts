import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../src/cli.ts";
import { loadOrCreateSecret, parseWebhookSecrets, readStoredSecret, storedSecretPath } from "../src/secrets.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "secrets-test-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("parseWebhookSecrets", () => {
  it("accepts one secret or a comma-separated list, trimming blanks", () => {
    expect(parseWebhookSecrets("whsec_abcdefgh12", "X")).toEqual(["whsec_abcdefgh12"]);
    expect(parseWebhookSecrets(" whsec_abcdefgh12 , whsec_0123456789abcdef ", "X")).toEqual([
      "whsec_abcdefgh12",
      "whsec_0123456789abcdef",
    ]);
  });

  it.each(["sk_test_abcdefghijkl", "whsec_", "whsec_short", "whsec_has space inside", "", "whsec_abcdefgh12,"])(
    "rejects %j with a UsageError that names the source",
    (value) => {
      expect(() => parseWebhookSecrets(value, "STRIPE_WEBHOOK_SECRET")).toThrow(UsageError);
      expect(() => parseWebhookSecrets(value, "STRIPE_WEBHOOK_SECRET")).toThrow(/STRIPE_WEBHOOK_SECRET/);
    },
  );

  it.each([
    ["too short", "whsec_Q7z", /it has 3 characters after "whsec_"/],
    ["an API key", "sk_live_51HQ7zabcdefghijklmnop", /it is a Stripe API key, not a webhook signing secret/],
    ["no prefix", "Q7zSecretValue123", /it does not start with "whsec_"/],
    ["a space", "whsec_Q7z secretvalue", /it contains a character outside that set/],
  ])("%s: states the actual rule and what breaks it, and echoes no part of the value", (_name, value, problem) => {
    const message = (() => {
      try {
        parseWebhookSecrets(value, "STRIPE_WEBHOOK_SECRET");
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })();

    expect(message).toContain(
      'expected "whsec_" followed by at least 8 characters, each a letter, a digit or one of + / = _ -',
    );
    expect(message).toMatch(problem);
    expect(message).not.toMatch(/letters and digits/);
    expect(message).not.toContain("Q7z");
    expect(message).not.toContain("sk_l");
  });

  it("never echoes a whole malformed value (it may be a live API key)", () => {
    const key = "sk_live_51HabcdefghijklmnopqrstuvwxyZ";
    let message = "";
    try {
      parseWebhookSecrets(`whsec_abcdefgh12,${key}`, "STRIPE_WEBHOOK_SECRET");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/entry 2 of STRIPE_WEBHOOK_SECRET/);
    expect(message).not.toContain(key);
    expect(message).not.toContain(key.slice(0, 12));
  });
});

describe("stored secret", () => {
  it("is generated once, stored owner-only, and reused", () => {
    const dir = join(tempDir(), "nested", "data");
    const first = loadOrCreateSecret(dir);
    expect(first.generated).toBe(true);
    expect(first.secret).toMatch(/^whsec_/);
    expect(statSync(storedSecretPath(dir)).mode & 0o777).toBe(0o600);

    const second = loadOrCreateSecret(dir);
    expect(second).toEqual({ secret: first.secret, generated: false });
    expect(readStoredSecret(dir)).toBe(first.secret);
    expect(readFileSync(storedSecretPath(dir), "utf8").trim()).toBe(first.secret);
  });

  it("is absent before the first start, and a corrupted file is an error, not a new secret", () => {
    const dir = tempDir();
    expect(readStoredSecret(dir)).toBeUndefined();
    writeFileSync(storedSecretPath(dir), "garbage\n");
    expect(() => loadOrCreateSecret(dir)).toThrow(/webhook-secret/);
  });
});
