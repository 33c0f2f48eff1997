import { afterAll, describe, expect, it } from "vitest";
import { runScript, tempDataDir } from "./helpers/processes.ts";

/*
 * The operator tools refuse a malformed argument before they touch a ledger or Stripe, and
 * quote it escaped: an argument pasted from a log or an event can hold terminal controls.
 */

const data = tempDataDir();
// An ESC colour sequence, a right-to-left override and a C1 CSI.
const hostile = "\u001b[31m\u202egnp\u009b";
const escaped = "\\u{001B}[31m\\u{202E}gnp\\u{009B}";
const raw = /[\u001b\u202e\u009b]/u;

afterAll(() => data.remove());

describe("a malformed argument holding terminal controls", () => {
  it.each([
    ["replay", [`evt_${hostile}`], `"evt_${escaped}" is not a Stripe event id`],
    ["entitlements", ["--customer", `cus_${hostile}`], `--customer must be a customer id (cus_...), got "cus_${escaped}"`],
    ["events", ["--status", hostile], `got "${escaped}"`],
  ])("%s: refused (exit 2) and quoted escaped", async (script, args, message) => {
    const run = await runScript(script, args, { DATA_DIR: data.dir, STRIPE_API_KEY: "" });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(raw);
  }, 60_000);
});
