import { afterEach, describe, expect, it, vi } from "vitest";
import { parseCli, parseCount, UsageError } from "../src/cli.ts";

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

  it("quotes an unknown option holding terminal controls escaped", () => {
    const message = (() => {
      try {
        parseCli({ options, args: ["--\u001b[2J\u202e"] }, usage);
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })();

    expect(message).toContain("--\\u{001B}[2J\\u{202E}");
    expect(message).not.toMatch(/[\u001b\u202e]/u);
  });
});

describe("parseCount", () => {
  it("refuses what is not a whole number, quoting it escaped", () => {
    expect(() => parseCount("1\u001b[2J", "--limit", 0, 1)).toThrow('--limit must be a whole number >= 1, got "1\\u{001B}[2J"');
    expect(parseCount("7", "--limit", 0, 1)).toBe(7);
    expect(parseCount(undefined, "--limit", 50, 1)).toBe(50);
  });
});
