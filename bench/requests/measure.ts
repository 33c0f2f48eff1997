import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildHarness } from "../shared/build.ts";
import { functionUrlEvent, smallPayload } from "../shared/events.ts";
import { defineMeasurement } from "../shared/measurement.ts";
import { runReporting } from "../shared/processes.ts";
import { perVariant, verdict } from "../shared/table.ts";
import { variants, type VariantName } from "../shared/variants.ts";
import type { RequestCountEvents, RequestCountReport } from "./child.ts";

/*
 * DynamoDB requests per new event and per duplicate, counted by a proxy in each handler's
 * process (child.ts), once with the proxy answering failed conditions as DynamoDB does and
 * once with dynalite as it is.
 */

export type RequestResults = Record<VariantName, RequestCountReport>;

/** `2 (all 10)` when every delivery made the same number of requests, else each count. */
export function counts(list: number[]): string {
  const distinct = [...new Set(list)];
  return distinct.length === 1 ? `${distinct[0]} (all ${list.length})` : list.join(", ");
}

const expected = { newEvent: 2, duplicate: 1 };

export const requests = defineMeasurement({
  name: "requests",
  method: `**4 Requests** (\`bench/requests/\`). A counting HTTP proxy in the handler's process in front of dynalite,
  one delivery at a time, each event delivered new and then again. dynalite ignores
  \`ReturnValuesOnConditionCheckFailure\`; DynamoDB and DynamoDB Local return the item with the failed
  condition, so the proxy adds it (reading it itself, uncounted). The figure in parentheses is plain dynalite.`,
  async run(bench) {
    const perMode = bench.smoke ? 2 : 10;
    const harness = await buildHarness("bench/requests/child.ts", join(bench.dir, "requests-child.mjs"));
    const results: Partial<RequestResults> = {};
    for (const v of variants) {
      bench.progress(`requests: ${v.name}`);
      const make = () => Array.from({ length: perMode }, () => functionUrlEvent(smallPayload(), bench.secret));
      const events: RequestCountEvents = { likeDynamoDb: make(), plainDynalite: make() };
      const file = join(bench.dir, `requests-${v.name}.json`);
      writeFileSync(file, JSON.stringify(events));
      const { report } = await runReporting<RequestCountReport>(
        harness,
        [bench.bundles[v.name].file, file, bench.engine.endpoint],
        bench.env(v.name),
      );
      results[v.name] = report;
    }
    const all = results as RequestResults;
    const ours = all.ours.likeDynamoDb;
    return {
      results: all,
      rows: [
        {
          section: 4,
          measure: "DynamoDB requests per new event",
          values: perVariant((n) => counts(all[n].likeDynamoDb.newEvent)),
          target: verdict(ours.newEvent.every((c) => c === expected.newEvent), `ours ${expected.newEvent}`),
        },
        {
          section: 4,
          measure: "DynamoDB requests per duplicate (on plain dynalite)",
          values: perVariant((n) => `${counts(all[n].likeDynamoDb.duplicate)} (${counts(all[n].plainDynalite.duplicate)})`),
          target: verdict(ours.duplicate.every((c) => c === expected.duplicate), `ours ${expected.duplicate}`),
        },
      ],
    };
  },
});
