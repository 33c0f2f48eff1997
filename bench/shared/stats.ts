/*
 * Every figure in the report is a median with its interquartile range over repeated runs, and
 * every comparison is the median of per-run ratios (ours and the baseline measured in the same
 * run, back to back), so slow spells on this shared machine hit both sides of a ratio alike.
 */

/** A median and the spread around it. */
export interface Summary {
  median: number;
  /** 25th percentile. */
  p25: number;
  /** 75th percentile. */
  p75: number;
  min: number;
  max: number;
  n: number;
}

/**
 * The `q` quantile (0 to 1) of `values`, by linear interpolation between closest ranks, as
 * spreadsheets do: the one definition every figure of the report uses. NaN for no values.
 */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower] ?? Number.NaN;
  const b = sorted[upper] ?? Number.NaN;
  return a + (b - a) * (position - lower);
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error("summarize: no values");
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    n: sorted.length,
  };
}

/** Per-run ratios `numerator[i] / denominator[i]`; both series must come from the same runs. */
export function pairedRatios(numerator: readonly number[], denominator: readonly number[]): number[] {
  if (numerator.length !== denominator.length) throw new Error("pairedRatios: runs do not pair up");
  return numerator.map((value, i) => value / (denominator[i] ?? Number.NaN));
}

/** The run order for run `run`: the list rotated, so no variant always goes first (or last). */
export function rotation<T>(items: readonly T[], run: number): T[] {
  const shift = run % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}


