import { afterAll, beforeAll, describe } from "vitest";
import { engineDefinitions, type Engine, type EngineDefinition } from "./engines.ts";

/**
 * Declares the same suite once per DynamoDB engine, starting each engine once for the whole
 * suite. An engine that cannot run here (DynamoDB Local without Java, outside CI) gets its suite
 * declared as skipped with the reason in its title, so the report shows what did not run; an
 * engine that must run but cannot fails its suite in `beforeAll`.
 */
export function describeEachEngine(
  title: string,
  body: (engine: () => Engine, definition: EngineDefinition) => void,
): void {
  for (const definition of engineDefinitions()) {
    if (!definition.runnable) {
      describe.skip(`${title} on ${definition.name} (NOT RUN: ${definition.unavailableReason ?? "unavailable"})`, () =>
        body(() => {
          throw new Error(`${definition.name} is not running`);
        }, definition),
      );
      continue;
    }
    describe(`${title} on ${definition.name}`, () => {
      let running: Engine | undefined;
      beforeAll(async () => {
        running = await definition.start();
      });
      afterAll(async () => {
        await running?.stop();
      });
      body(() => {
        if (!running) throw new Error(`${definition.name} did not start`);
        return running;
      }, definition);
    });
  }
}
