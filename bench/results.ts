import type { SplitBundle } from "./build.ts";
import type { BurstResults } from "./sections/burst.ts";
import type { ColdResults } from "./sections/cold.ts";
import type { RequestResults } from "./sections/requests.ts";
import type { WarmResults } from "./sections/warm.ts";
import type { VariantName } from "./variants.ts";

/** Everything one run measured, as written to BENCH_RESULTS (JSON) and rendered in the report. */
export interface BenchResults {
  date: string;
  smoke: boolean;
  durationSeconds: number;
  machine: { node: string; cpu: string; cores: number; memoryGiB: number; os: string };
  bundles: Record<VariantName, { bytes: number; gzipBytes: number }>;
  /** The same handlers built with SST's `nodejs.splitting`. */
  splitBundles: Record<VariantName, SplitBundle>;
  /** Ours' bundle by package, largest first. */
  oursComposition: { name: string; bytes: number }[];
  cold: ColdResults;
  warm: WarmResults;
  requests: RequestResults;
  burst: BurstResults;
}
