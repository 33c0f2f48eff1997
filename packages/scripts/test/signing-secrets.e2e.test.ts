import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runScript, tempDataDir } from "./helpers/processes.ts";

/*
 * `npm run signing-secrets` as an operator runs it: under `sst shell` (the links SST sets as
 * SST_RESOURCE_* variables, written here as the CLI writes them) and against a local data
 * directory. It must name each secret's endpoint and origin and print its fingerprint, never
 * the secret.
 */

const fingerprint = (secret: string) => createHash("sha256").update(secret).digest("hex").slice(0, 8);
const current = "we_1CurrentEndpoint";
const draining = "we_1DrainingEndpoint";

function shell(value: string, overriddenIds: string[]): Record<string, string> {
  return {
    SST_RESOURCE_App: JSON.stringify({ name: "stripe-webhooks", stage: "alice" }),
    SST_RESOURCE_StripeWebhookSecret: JSON.stringify({ type: "sst.sst.Secret", value }),
    SST_RESOURCE_StripeEndpoint: JSON.stringify({ type: "sst.sst.Linkable", id: current, drainingId: draining, overriddenIds }),
  };
}

describe("npm run signing-secrets under sst shell", () => {
  it("lists each trusted secret with its endpoint, its origin and its fingerprint, and no secret", async () => {
    const secrets = ["whsec_rolledForCurrent01", "whsec_createdForDraining1"];
    const run = await runScript("signing-secrets", [], shell(`${current}:${secrets[0]},${draining}:${secrets[1]}`, [current]));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toBe('Stage "alice" trusts:');
    expect(lines.slice(2).map((line) => line.split(/\s{2,}/))).toEqual([
      [current, "override (sst secret set)", fingerprint(secrets[0]!)],
      [draining, "creation (the endpoint's own)", fingerprint(secrets[1]!)],
    ]);
    for (const secret of secrets) expect(run.stdout).not.toContain(secret.slice(6));
  });
});

describe("npm run signing-secrets against a local data directory", () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it("fingerprints the receiver's generated secret, and says how to start one when there is none", async () => {
    const empty = await runScript("signing-secrets", ["--data-dir", data.dir], {});
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("npm start");

    const secret = "whsec_localGeneratedSecret0001";
    writeFileSync(join(data.dir, "webhook-secret"), `${secret}\n`);
    const run = await runScript("signing-secrets", ["--data-dir", data.dir], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(fingerprint(secret));
    expect(run.stdout).not.toContain(secret.slice(6));
  });
});
