import {
  DynamoDBClient as SdkDynamoDBClient,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from "@aws-sdk/client-dynamodb";
import type { InitializeHandlerOutput, InitializeMiddleware } from "@aws-sdk/types";
import { benchTape } from "./tape.ts";

/*
 * Stands in for `@aws-sdk/client-dynamodb` in the warm-CPU bundles only (measure.ts redirects
 * the import here; this module itself imports the real package). Everything is the SDK's,
 * except that every DynamoDBClient gets a first middleware that records or replays command
 * results through the tape. Added at the initialize step, the very first, so a replayed command skips
 * serialization, signing, HTTP and parsing: what remains is the handler's own work.
 */

export * from "@aws-sdk/client-dynamodb";

const throughTape: InitializeMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => async (args) => {
  const tape = benchTape();
  if (tape.mode === "replay") {
    const entry = tape.next();
    if (!entry.ok) throw entry.error;
    // The very result the live command produced; the handler cannot tell the difference.
    return entry.output as InitializeHandlerOutput<ServiceOutputTypes>;
  }
  if (tape.mode === "live") return next(args);
  try {
    const result = await next(args);
    tape.record({ ok: true, output: result });
    return result;
  } catch (error) {
    tape.record({ ok: false, error });
    throw error;
  }
};

export class DynamoDBClient extends SdkDynamoDBClient {
  constructor(...args: ConstructorParameters<typeof SdkDynamoDBClient>) {
    super(...args);
    this.middlewareStack.add(throughTape, { step: "initialize", priority: "high", name: "benchTape" });
  }
}
