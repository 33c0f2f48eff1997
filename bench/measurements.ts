import { bundle } from "./bundle/measure.ts";
import { burst } from "./burst/measure.ts";
import { cold } from "./cold/measure.ts";
import { effects } from "./effects/measure.ts";
import { reconcileMeasurement } from "./reconcile/measure.ts";
import { renewal } from "./renewal/measure.ts";
import type { Measurement } from "./shared/measurement.ts";
import { requests } from "./requests/measure.ts";
import { warm } from "./warm/measure.ts";

/*
 * Every measurement `npm run bench` runs, in order. Adding one is a folder with its runner and
 * an entry here; its name keys its results in BENCH_RESULTS and selects it in BENCH_ONLY.
 */
export const measurements = [cold, bundle, warm, requests, burst, reconcileMeasurement, effects, renewal] as const;

type Registered = (typeof measurements)[number];

export type MeasurementName = Registered["name"];

/** What each measurement returned, by name. */
export type MeasurementResults = {
  [M in Registered as M["name"]]: M extends Measurement<string, infer R> ? R : never;
};

/** Everything one run measured, as written to BENCH_RESULTS (JSON). */
export interface BenchResults {
  date: string;
  smoke: boolean;
  durationSeconds: number;
  machine: { node: string; cpu: string; cores: number; memoryGiB: number; os: string };
  /** Only those selected by BENCH_ONLY, when it is set. */
  measurements: Partial<MeasurementResults>;
}
