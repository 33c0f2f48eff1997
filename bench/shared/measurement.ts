import type { Row } from "./table.ts";
import type { Workbench } from "./workbench.ts";

/*
 * A measurement is a folder under bench/ with its runner (a Measurement) and whatever runs in
 * its child processes; bench/measurements.ts lists them. That list is the only place a new one
 * is registered: its results land in BENCH_RESULTS under its name, its rows in the table and
 * its method note in BENCHMARKS.md.
 */

export interface Measurement<Name extends string = string, Results = unknown> {
  name: Name;
  /**
   * How it is measured, for BENCHMARKS.md: one markdown list item, with no measured figure in
   * it (figures belong in the table, which is regenerated with them).
   */
  method: string;
  run(bench: Workbench): Promise<Measured<Results>>;
}

export interface Measured<Results> {
  /** Every number, as written to BENCH_RESULTS. */
  results: Results;
  rows: Row[];
}

/** Keeps a measurement's name as a literal type, so the registry can type the results by name. */
export function defineMeasurement<Name extends string, Results>(
  measurement: Measurement<Name, Results>,
): Measurement<Name, Results> {
  return measurement;
}
