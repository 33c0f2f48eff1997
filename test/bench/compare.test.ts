import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { CompareResults } from "../../bench/compare/run.ts";

/*
 * Keeps `npm run bench:compare` working: HEAD's deployed entry against this checkout's, with tiny
 * counts. It checks the columns and that each replay took the live path (the commands per
 * event); nothing here looks at speed.
 */

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const scratch = mkdtempSync(join(tmpdir(), "bench-compare-"));
const run = promisify(execFile);
const worktrees = () => execFileSync("git", ["worktree", "list", "--porcelain"], { cwd: repoRoot, encoding: "utf8" });

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("npm run bench:compare (smoke)", () => {
  it("measures a commit's deployed entry beside this checkout's and the floor, and removes its worktree", { timeout: 120_000 }, async () => {
    const before = worktrees();
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim().slice(0, 12);
    const resultsFile = join(scratch, "compare.json");
    const { stdout } = await run(process.execPath, ["--import", "tsx", "bench/compare/run.ts", "HEAD"], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_SMOKE: "1", BENCH_RESULTS: resultsFile },
      timeout: 110_000,
      maxBuffer: 16 * 1024 * 1024,
    });

    const results = JSON.parse(readFileSync(resultsFile, "utf8")) as CompareResults;
    expect(results.handlers).toEqual([head, "checkout", "floor"]);
    for (const size of ["small", "large"] as const) {
      expect(results.commandsPerEvent[size]).toEqual({ [head]: 2, checkout: 2, floor: 1 });
      expect(results.toFirst[size][head]?.median).toBe(1);
      expect(results.cpuMicrosPerEvent[size].checkout?.median).toBeGreaterThan(0);
    }
    expect(stdout).toContain(`| … ÷ ${head} |`);
    expect(worktrees()).toBe(before);
  });

  it("refuses what is not a commit, and says so", async () => {
    const failed = await run(process.execPath, ["--import", "tsx", "bench/compare/run.ts", "no-such-ref-here"], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_SMOKE: "1" },
    }).then(
      () => undefined,
      (error: unknown) => error as { code?: number; stderr?: string },
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toContain("no-such-ref-here is not a commit here");
  });
});
