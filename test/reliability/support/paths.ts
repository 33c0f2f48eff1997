import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Where the suites leave their figures for `npm run reliability` (git-ignored, under .data/). */
export const figuresDir = join(repoRoot, ".data", "reliability");

/** The report the figures are rendered into. */
export const reportPath = join(repoRoot, "RELIABILITY.md");
