import { writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Invoke } from "../../packages/scripts/src/receiver/receiver-server.ts";

/* What every measurement's child process does with a handler bundle. */

/**
 * Imports a built module and returns its `handler` export, checked at run time since it comes
 * from a file.
 */
export async function importHandler(file: string): Promise<Invoke> {
  const loaded: unknown = await import(pathToFileURL(file).href);
  if (typeof loaded === "object" && loaded !== null && "handler" in loaded && typeof loaded.handler === "function") {
    return loaded.handler as Invoke;
  }
  throw new Error(`${file} exports no handler function`);
}

/** The status code of a handler's function URL result. */
export function statusOf(result: unknown): number {
  if (typeof result === "object" && result !== null && "statusCode" in result && typeof result.statusCode === "number") {
    return result.statusCode;
  }
  return 200;
}

/**
 * Hands the one report to the bench (fd 3, read by runReporting) and exits: the SDK's keep-alive
 * sockets would otherwise hold the process open.
 */
export function reportAndExit(report: unknown): never {
  writeSync(3, `${JSON.stringify(report)}\n`);
  process.exit(0);
}
