import { afterEach, describe, expect, it, vi } from "vitest";
import { parseCli, UsageError } from "../src/cli.ts";

/* The one argument parser every tool uses: its help flag and its errors. */

const usage = "usage: npm run tool -- [--json] [--limit N]";
const options = { json: { type: "boolean" }, limit: { type: "string" } } as const;

afterEach(() => vi.restoreAllMocks());

describe("parseCli", () => {
  it.each([["--help"], ["-h"]])("%s prints the usage and gives undefined, whatever else is on the line", (flag) => {
    const printed = vi.spyOn(console, "log").mockImplementation(() => {});

    const parsed = parseCli({ options, args: ["--json", flag] }, usage);

    expect(parsed).toBeUndefined();
    expect(printed).toHaveBeenCalledWith(usage);
  });

  it("gives the tool's own options without printing anything", () => {
    const printed = vi.spyOn(console, "log").mockImplementation(() => {});

    const parsed = parseCli({ options, args: ["--json", "--limit", "5"] }, usage);

    expect(parsed?.values).toEqual({ json: true, limit: "5" });
    expect(printed).not.toHaveBeenCalled();
  });

  it("turns an unknown option into a UsageError that carries the usage", () => {
    const thrown = (() => {
      try {
        parseCli({ options, args: ["--nope"] }, usage);
      } catch (error) {
        return error;
      }
      return undefined;
    })();

    expect(thrown).toBeInstanceOf(UsageError);
    expect(String((thrown as Error).message)).toContain("--nope");
    expect(String((thrown as Error).message)).toContain(usage);
  });
});
