import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Level } from "level";
import { DataDirInUseError, dynamoDataPath } from "./data-dir.ts";
import { startDynalite, type EmbeddedDynamo } from "./local-dynamo.ts";

/*
 * The embedded ledger's LevelDB files, checked before anything opens them. LevelDB repairs
 * what a crash can leave (a log cut mid-record) by dropping it, and opens a directory without
 * its CURRENT file as a new, empty database: it cannot tell damage from a crash, and in both
 * cases starts with entries silently gone. So a record of the files is kept beside them
 * (`ledger-files.json`): their sizes and SHA-256 digests, written after every clean close.
 * Files that differ from it were changed while nothing had them open: damage, refused. A record
 * still saying `open` means the last owner never closed them (killed, crashed): LevelDB's own
 * recovery applies, since every write the receiver acknowledged had reached the OS, and only
 * structural damage can be seen (CURRENT or the MANIFEST it names missing or empty).
 */

/** The ledger files are damaged; nothing was opened or changed. */
export class DamagedLedgerError extends Error {
  override name = "DamagedLedgerError";
}

interface FileFacts {
  size: number;
  sha256: string;
}

interface FilesRecord {
  state: "open" | "closed";
  pid: number;
  /** The files as the last clean close left them. */
  files: Record<string, FileFacts>;
}

// LevelDB's own files; LOG and LOCK are its diagnostics and its lock, rewritten on every open.
const dataFile = /^(?:CURRENT|MANIFEST-\d+|\d+\.(?:log|ldb|sst))$/;

function recordPath(dataDir: string): string {
  return join(dataDir, "ledger-files.json");
}

function readRecord(dataDir: string): FilesRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(dataDir), "utf8")) as FilesRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(dataDir: string, record: FilesRecord): void {
  // Written aside and renamed, so a crash mid-write leaves the previous record, never half of one.
  const path = recordPath(dataDir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

function dataFiles(path: string): string[] {
  return existsSync(path) ? readdirSync(path).filter((name) => dataFile.test(name)).sort() : [];
}

function snapshot(path: string): Record<string, FileFacts> {
  const files: Record<string, FileFacts> = {};
  for (const name of dataFiles(path)) {
    const content = readFileSync(join(path, name));
    files[name] = { size: content.length, sha256: createHash("sha256").update(content).digest("hex") };
  }
  return files;
}

/** What is wrong with the files, or undefined when nothing that can be seen is. */
function findDamage(path: string, record: FilesRecord | undefined): string | undefined {
  const names = dataFiles(path);
  if (names.length === 0) return undefined;
  if (!names.includes("CURRENT")) return "its CURRENT file is missing";
  const manifest = readFileSync(join(path, "CURRENT"), "utf8").trim();
  if (!/^MANIFEST-\d+$/.test(manifest)) return "its CURRENT file does not name a MANIFEST";
  if (!names.includes(manifest)) return `${manifest}, which CURRENT names, is missing`;
  if (statSync(join(path, manifest)).size === 0) return `${manifest} is empty`;
  if (record?.state !== "closed") return undefined;

  const now = snapshot(path);
  const problems: string[] = [];
  for (const [name, facts] of Object.entries(record.files)) {
    const found = now[name];
    if (!found) problems.push(`${name} is missing`);
    else if (found.size !== facts.size) problems.push(`${name} is ${found.size} bytes, was ${facts.size}`);
    else if (found.sha256 !== facts.sha256) problems.push(`${name} changed`);
  }
  for (const name of Object.keys(now)) if (!(name in record.files)) problems.push(`${name} appeared`);
  if (problems.length === 0) return undefined;
  const shown = problems.slice(0, 3).join(", ");
  return `since it was last closed ${problems.length > 3 ? `${shown} and ${problems.length - 3} more` : shown}`;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Opens and closes the files with LevelDB alone, so its refusal is an error here, not a crash of dynalite. */
async function probe(path: string, fresh: boolean): Promise<string | undefined> {
  const db = new Level(path, { createIfMissing: fresh });
  try {
    await db.open();
    return undefined;
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    if (errorCode(cause) === "LEVEL_LOCKED") {
      throw new DataDirInUseError(`another process has the ledger files in ${path} open. Stop it, or give this one its own DATA_DIR.`);
    }
    return `LevelDB cannot open it: ${cause instanceof Error ? cause.message : String(cause)}`;
  } finally {
    await db.close().catch(() => undefined);
  }
}

/**
 * Checks the data directory's ledger files, then starts dynalite on them. Throws
 * {@link DamagedLedgerError} (one line: the directory and what to do) for files that are
 * damaged or changed since their last clean close, without opening or changing them; the
 * returned `close` records the files as it leaves them. The caller holds the data directory's
 * lock (`lockDataDir`), so no other process opens them meanwhile.
 */
export async function openEmbeddedLedger(dataDir: string): Promise<EmbeddedDynamo> {
  const path = dynamoDataPath(dataDir);
  const record = readRecord(dataDir);
  const fresh = dataFiles(path).length === 0;
  const damage = findDamage(path, record) ?? (fresh ? undefined : await probe(path, false));
  if (damage) {
    throw new DamagedLedgerError(
      `the ledger in ${path} is damaged (${damage}); it was left as it is. ` +
        `Move it aside (mv ${path} ${path}.damaged) to start with an empty ledger, or start with --memory.`,
    );
  }
  writeRecord(dataDir, { state: "open", pid: process.pid, files: fresh ? {} : (record?.files ?? {}) });
  const dynamo = await startDynalite(path);
  return {
    endpoint: dynamo.endpoint,
    close: async () => {
      await dynamo.close();
      writeRecord(dataDir, { state: "closed", pid: process.pid, files: snapshot(path) });
    },
  };
}
