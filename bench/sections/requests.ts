import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RequestCountEvents, RequestCountReport } from "../child/protocol.ts";
import { functionUrlEvent, smallPayload } from "../events.ts";
import { runReporting } from "../processes.ts";
import { variants, type VariantName } from "../variants.ts";
import type { Workbench } from "../workbench.ts";

/*
 * 4. DynamoDB requests per new event and per duplicate, counted by a proxy in each handler's
 * process (child/requests.ts), once with the proxy answering failed conditions as DynamoDB does
 * and once with dynalite as it is.
 */

export type RequestResults = Record<VariantName, RequestCountReport>;

export async function countRequests(bench: Workbench): Promise<RequestResults> {
  const results: Partial<RequestResults> = {};
  for (const variant of variants) {
    bench.progress(`requests: ${variant.name}`);
    const make = () =>
      Array.from({ length: bench.config.requestEvents }, () => functionUrlEvent(smallPayload(), bench.secret));
    const events: RequestCountEvents = { likeDynamoDb: make(), plainDynalite: make() };
    const file = join(bench.dir, `requests-${variant.name}.json`);
    writeFileSync(file, JSON.stringify(events));
    const { report } = await runReporting<RequestCountReport>(
      bench.harness.requests,
      [bench.bundles[variant.name].file, file, bench.engine.endpoint],
      bench.env(variant.name),
    );
    results[variant.name] = report;
  }
  return results as RequestResults;
}
