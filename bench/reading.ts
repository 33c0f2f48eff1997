import type { BenchResults } from "./results.ts";
import { renderMachine, renderTable } from "./report.ts";

export function renderBenchmarksFile(results: BenchResults): string {
  return `# Benchmarks\n\n${renderMachine(results)}\n\n${renderTable(results)}\n`;
}
