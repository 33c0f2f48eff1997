import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { figuresDir } from "./paths.ts";

/** What one suite file leaves behind for the report: counters, and the engines it ran on. */
export interface SuiteFigures {
  suite: string;
  finishedAt: string;
  engines: string[];
  figures: Record<string, number>;
}

/**
 * Counters a suite fills in as it runs and writes to `.data/reliability/<suite>.json` (git
 * ignored) when it ends; `npm run reliability` renders them into RELIABILITY.md. A plain `npm
 * test` writes the JSON too, and never touches the tracked report.
 */
export class FigureBook {
  readonly figures: Record<string, number> = {};
  private readonly engines = new Set<string>();

  constructor(readonly suite: string) {}

  add(name: string, count = 1): void {
    this.figures[name] = (this.figures[name] ?? 0) + count;
  }

  max(name: string, value: number): void {
    this.figures[name] = Math.max(this.figures[name] ?? 0, value);
  }

  get(name: string): number {
    return this.figures[name] ?? 0;
  }

  ranOn(engine: string): void {
    this.engines.add(engine);
  }

  write(): void {
    mkdirSync(figuresDir, { recursive: true });
    const content: SuiteFigures = {
      suite: this.suite,
      finishedAt: new Date().toISOString(),
      engines: [...this.engines],
      figures: Object.fromEntries(Object.entries(this.figures).sort(([a], [b]) => a.localeCompare(b))),
    };
    writeFileSync(join(figuresDir, `${this.suite}.json`), `${JSON.stringify(content, null, 2)}\n`);
  }
}
