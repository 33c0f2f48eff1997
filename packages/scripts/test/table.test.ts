import { describe, expect, it } from "vitest";
import { cell, formatTable, maxCellLength, printable } from "../src/table.ts";

/* What the tools print of values that came from outside: escaped, bounded, aligned. */

describe("printable", () => {
  it.each([
    ["NUL", "\u0000", "\\u{0000}"],
    ["ESC", "\u001b[2J", "\\u{001B}[2J"],
    ["a newline", "a\nb", "a\\u{000A}b"],
    ["DEL", "\u007f", "\\u{007F}"],
    ["a C1 control (CSI)", "\u009b31m", "\\u{009B}31m"],
    ["a right-to-left override", "evt_\u202Egnp.exe", "evt_\\u{202E}gnp.exe"],
    ["a left-to-right mark", "\u200e", "\\u{200E}"],
    ["an isolate", "\u2066x\u2069", "\\u{2066}x\\u{2069}"],
    ["an Arabic letter mark", "\u061c", "\\u{061C}"],
    ["a zero-width space", "a\u200bb", "a\\u{200B}b"],
    ["a line separator", "\u2028", "\\u{2028}"],
    ["a byte-order mark", "\ufeff", "\\u{FEFF}"],
  ])("escapes %s", (_name, raw, shown) => {
    expect(printable(raw)).toBe(shown);
  });

  it("doubles a backslash, so a literal \\u{202E} in a value cannot pass for an escaped one", () => {
    expect(printable("\\u{202E}")).toBe("\\\\u{202E}");
    expect(printable("\u202e")).not.toBe(printable("\\u{202E}"));
  });

  it("leaves ordinary text, including non-Latin letters and emoji, as it is", () => {
    const text = "evt_1Abc_2 invoice.paid Zürich 東京 🎉";
    expect(printable(text)).toBe(text);
  });
});

describe("cell", () => {
  it("cuts a value longer than the bound and says how long it was", () => {
    const shown = cell("x".repeat(100_000));
    expect(shown).toHaveLength(maxCellLength);
    expect(shown).toMatch(/… \(100000 characters\)$/);
  });

  it("keeps a value within the bound whole", () => {
    expect(cell("y".repeat(maxCellLength))).toBe("y".repeat(maxCellLength));
  });
});

describe("formatTable", () => {
  it("pads each column to its widest escaped cell and leaves no trailing spaces", () => {
    const table = formatTable(["ID", "TYPE", "NOTE"], [
      ["evt_\u202e1", "a", ""],
      ["evt_2", "invoice.paid", "-"],
    ]);
    expect(table.split("\n")).toEqual([
      "ID             TYPE          NOTE",
      "evt_\\u{202E}1  a",
      "evt_2          invoice.paid  -",
    ]);
  });
});
