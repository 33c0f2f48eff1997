import type { Summary } from "./stats.ts";
import { variantNames, type VariantName } from "./variants.ts";

/*
 * The one results table. A measurement contributes rows; the columns are fixed: a value per
 * variant, three ratios, and the target. Cells are strings a measurement formats with the
 * helpers below, so every figure in the table is rounded the same way.
 */

export type RatioColumn = "oursToFloor" | "naiveToFloor" | "oursToPowertools";

const ratioColumns: readonly { key: RatioColumn; label: string }[] = [
  { key: "oursToFloor", label: "ours ÷ floor" },
  { key: "naiveToFloor", label: "naive ÷ floor" },
  { key: "oursToPowertools", label: "ours ÷ powertools" },
];

export interface Row {
  /** The numbered section of the table the row belongs to; rows are listed by section. */
  section: number;
  measure: string;
  values?: Partial<Record<VariantName, string>>;
  ratios?: Partial<Record<RatioColumn, string>>;
  target?: string;
}

const dash = "–";

export function number(value: number, digits: number): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds, microseconds, MiB: whole numbers from 100 up, one decimal below. */
export function amount(value: number): string {
  return number(value, Math.abs(value) >= 100 ? 0 : 1);
}

/** A median with its interquartile range: `median (p25–p75)`. */
export function spread(summary: Summary, format: (value: number) => string = amount): string {
  return `${format(summary.median)} (${format(summary.p25)}–${format(summary.p75)})`;
}

/** A ratio: two decimals, with its interquartile range when it has one. */
export function ratio(value: Summary | number): string {
  const two = (n: number) => number(n, 2);
  return typeof value === "number" ? two(value) : spread(value, two);
}

export function kib(bytes: number): string {
  return `${number(bytes / 1024, 1)} KiB`;
}

/** The target cell: `met (rule: value)` or a bold miss, or "report" for figures without one. */
export function verdict(met: boolean, detail: string): string {
  return met ? `met (${detail})` : `**missed** (${detail})`;
}

/** A cell per variant, `–` where `make` gives nothing. */
export function perVariant(make: (name: VariantName) => string | undefined): Partial<Record<VariantName, string>> {
  const cells: Partial<Record<VariantName, string>> = {};
  for (const name of variantNames) {
    const cell = make(name);
    if (cell !== undefined) cells[name] = cell;
  }
  return cells;
}

/** The table in markdown, rows ordered by section and, within one, as given. */
export function renderTable(rows: readonly Row[]): string {
  const header = ["#", "Measure", ...variantNames, ...ratioColumns.map((c) => c.label), "Target"];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => " --- ").join("|")}|`];
  const ordered = [...rows].sort((a, b) => a.section - b.section);
  for (const row of ordered) {
    const cells = [
      String(row.section),
      row.measure,
      ...variantNames.map((name) => row.values?.[name] ?? dash),
      ...ratioColumns.map((column) => row.ratios?.[column.key] ?? dash),
      row.target ?? dash,
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}
