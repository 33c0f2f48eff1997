/*
 * How much each section repeats. The full run is sized to finish well within five minutes on
 * two cores; BENCH_SMOKE=1 runs every section with tiny counts, only to prove it works.
 */

export interface BenchConfig {
  smoke: boolean;
  /** Cold starts per variant (and per probe). */
  coldRuns: number;
  /** Measured warm rounds per variant and size, after the recorded warm-up pass. */
  warmRounds: number;
  /** Distinct events per warm round, per size. */
  warmEvents: { small: number; large: number };
  /** Events sent new and then again, per proxy mode. */
  requestEvents: number;
  burst: { pairs: number; deliveries: number; distinct: number; concurrency: number };
}

export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  if (env.BENCH_SMOKE === "1") {
    return {
      smoke: true,
      coldRuns: 2,
      warmRounds: 2,
      warmEvents: { small: 4, large: 2 },
      requestEvents: 2,
      burst: { pairs: 1, deliveries: 50, distinct: 40, concurrency: 4 },
    };
  }
  return {
    smoke: false,
    coldRuns: 20,
    warmRounds: 21,
    warmEvents: { small: 300, large: 40 },
    requestEvents: 10,
    burst: { pairs: 5, deliveries: 1000, distinct: 800, concurrency: 16 },
  };
}
