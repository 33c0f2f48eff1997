import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { consumerLeaseSeconds, leaseMarginSeconds, queueVisibilityTimeoutSeconds } from "../../packages/core/src/limits.ts";
import { stripeApiVersion } from "../../packages/core/src/stripe-version.ts";
import {
  localConsumerTimeoutSeconds,
  localMaxConcurrency,
  localMaxReceives,
  localStripeRequestsPerSecond,
} from "../../packages/scripts/src/receiver/local-queue.ts";
import { compareAddresses, parseStripeWebhookIps, renderIpFile } from "../../packages/scripts/src/refresh-stripe-ips.ts";
import { defaultRegion, endpointResourceName, stageSettings, stageSettingsProblems, type StageSettings } from "../../infra/stage.ts";
import { root } from "./synth/synth.ts";

/*
 * The stage settings and the checks preflight runs on them, without a synth: every preset must
 * pass, and each kind of mistake must be named.
 */

function withChanges(stage: string, changes: Partial<StageSettings>): StageSettings {
  return { ...stageSettings(stage), ...changes };
}

describe("the stage presets", () => {
  it("pass preflight for production, a preview and a personal stage", () => {
    for (const stage of ["production", "pr-12", "alice"]) expect(stageSettingsProblems(stage, stageSettings(stage)), stage).toEqual([]);
  });

  it("make production live, edge-signed, in an explicit region, with no domain, IP allowlist or reserved concurrency until chosen", () => {
    expect(stageSettings("production")).toMatchObject({
      mode: "live",
      region: defaultRegion,
      protection: "oac-with-edge-signing",
      endpoint: { kind: "managed", apiVersions: [stripeApiVersion] },
      waf: { stripeIpAllowlist: false },
      domain: undefined,
      reservedConcurrency: undefined,
    });
  });

  it("give pr-<n> stages the shared test endpoint and every other stage endpoints of its own", () => {
    expect(stageSettings("pr-7").endpoint).toEqual({ kind: "shared" });
    expect(stageSettings("pr-7").mode).toBe("test");
    for (const stage of ["alice", "staging", "pr", "pr-x"]) expect(stageSettings(stage).endpoint.kind, stage).toBe("managed");
  });
});

describe("queued processing settings", () => {
  it("queue every preset, with a consumer timeout of minutes and five failed runs before dead-lettering", () => {
    for (const stage of ["production", "pr-12", "alice"]) {
      expect(stageSettings(stage), stage).toMatchObject({
        processing: "queued",
        queue: { consumerTimeoutSeconds: 300, maxReceives: 5 },
        alarms: { oldestQueuedMessageMinutes: 15 },
      });
    }
  });

  it("give the consumers all of test mode's 25 requests/s and four fifths of live mode's 100, shared by enough instances to use it at 200 ms a request", () => {
    const budget = { test: 25, live: 80 } as const;
    for (const stage of ["production", "pr-12", "alice"]) {
      const { mode, queue } = stageSettings(stage);
      expect(queue.stripeRequestsPerSecond, stage).toBe(budget[mode]);
      expect(queue.maxConcurrency * (1000 / 200), stage).toBeGreaterThanOrEqual(queue.stripeRequestsPerSecond);
    }
    expect(stageSettings("production").queue).toMatchObject({ maxConcurrency: 20, stripeRequestsPerSecond: 80 });
    expect(stageSettings("alice").queue).toMatchObject({ maxConcurrency: 5, stripeRequestsPerSecond: 25 });
  });

  it("are what the local receiver's queue runs (it cannot import infra, so its copies are checked here)", () => {
    expect({
      consumerTimeoutSeconds: localConsumerTimeoutSeconds,
      maxConcurrency: localMaxConcurrency,
      stripeRequestsPerSecond: localStripeRequestsPerSecond,
      maxReceives: localMaxReceives,
    }).toEqual(stageSettings("alice").queue);
  });

  it("accept an inline stage", () => {
    expect(stageSettingsProblems("alice", withChanges("alice", { processing: "inline" }))).toEqual([]);
  });

  it("refuse an unknown processing mode and queue settings Lambda or SQS would not take, one message each", () => {
    const settings = {
      ...stageSettings("alice"),
      processing: "batch",
      queue: { consumerTimeoutSeconds: 901, maxConcurrency: 1, stripeRequestsPerSecond: 0, maxReceives: 0 },
      alarms: { invalidSignaturesPer5Minutes: 20, oldestQueuedMessageMinutes: 0 },
    } as unknown as StageSettings;
    expect(stageSettingsProblems("alice", settings)).toEqual([
      "alarms.oldestQueuedMessageMinutes must be a whole number from 1 to 20,160 (14 days), not 0.",
      'processing must be "queued" or "inline", not "batch".',
      "queue.consumerTimeoutSeconds must be a whole number from 30 to 900, not 901.",
      "queue.maxConcurrency must be a whole number from 2 to 1,000 (Lambda's bounds for an SQS event source), not 1.",
      "queue.stripeRequestsPerSecond must be a number above 0 and at most 10,000, not 0.",
      "queue.maxReceives must be a whole number from 1 to 100, not 0.",
    ]);
  });

  it("refuse fractions and values past the upper bounds, and a missing queue", () => {
    const queue = (changes: Record<string, unknown>) =>
      stageSettingsProblems("alice", withChanges("alice", { queue: { ...stageSettings("alice").queue, ...changes } }));
    expect(queue({ consumerTimeoutSeconds: 29 })).toEqual([expect.stringContaining("queue.consumerTimeoutSeconds")]);
    expect(queue({ consumerTimeoutSeconds: 60.5 })).toEqual([expect.stringContaining("queue.consumerTimeoutSeconds")]);
    expect(queue({ maxConcurrency: 1001 })).toEqual([expect.stringContaining("queue.maxConcurrency")]);
    expect(queue({ stripeRequestsPerSecond: 10_001 })).toEqual([expect.stringContaining("queue.stripeRequestsPerSecond")]);
    expect(queue({ stripeRequestsPerSecond: "20" })).toEqual([expect.stringContaining("queue.stripeRequestsPerSecond")]);
    expect(queue({ stripeRequestsPerSecond: 2.5 })).toEqual([]);
    expect(queue({ maxReceives: 101 })).toEqual([expect.stringContaining("queue.maxReceives")]);
    expect(queue({ maxReceives: "5" })).toEqual([expect.stringContaining("queue.maxReceives")]);
    const withoutQueue = { ...stageSettings("alice"), queue: undefined } as unknown as StageSettings;
    expect(stageSettingsProblems("alice", withoutQueue)).toEqual(["queue must be { consumerTimeoutSeconds, maxConcurrency, stripeRequestsPerSecond, maxReceives }."]);
  });
});

describe("the consumer's lease and the queue's visibility timeout (core's limits)", () => {
  it("lease the consumer's whole timeout plus the margin, and keep messages invisible for six times the timeout", () => {
    expect(consumerLeaseSeconds(300)).toBe(300 + leaseMarginSeconds);
    expect(queueVisibilityTimeoutSeconds(300)).toBe(1800);
    expect(queueVisibilityTimeoutSeconds(900)).toBeLessThanOrEqual(43_200);
  });

  it("keep a message invisible for longer than the lease, for every consumer timeout the settings allow", () => {
    for (const timeout of [30, 31, 300, 900]) {
      expect(queueVisibilityTimeoutSeconds(timeout), String(timeout)).toBeGreaterThan(consumerLeaseSeconds(timeout));
    }
  });

  it("refuse a timeout Lambda would not take", () => {
    for (const timeout of [0, 901, 2.5, Number.NaN]) {
      expect(() => consumerLeaseSeconds(timeout)).toThrow(RangeError);
      expect(() => queueVisibilityTimeoutSeconds(timeout)).toThrow(/whole number of seconds from 1 to 900/);
    }
  });
});

describe("endpoint names", () => {
  it("keep the name the endpoint had before names carried versions, and give every other version its own", () => {
    expect(endpointResourceName(stripeApiVersion)).toBe("StripeWebhookEndpoint");
    const next = endpointResourceName("2027-01-27.fennel");
    expect(next).toBe("StripeWebhookEndpoint20270127fennel");
    expect(endpointResourceName("2027-02-24.fennel")).not.toBe(next);
  });
});

describe("stage settings problems", () => {
  const pinned = stripeApiVersion;

  it("refuse a list of endpoint versions without the pinned one, pointing at the upgrade procedure", () => {
    const problems = stageSettingsProblems("alice", withChanges("alice", { endpoint: { kind: "managed", apiVersions: ["2026-09-30.dahlia"] } }));
    expect(problems).toEqual([expect.stringContaining(`but the handler is built for ${pinned}`)]);
    expect(problems[0]).toContain('Add "2026-10-28.endive" beside the current version');
  });

  it("accept the pinned version beside one draining version, and refuse a third, a duplicate, a malformed or an empty list", () => {
    const managed = (apiVersions: string[]) => stageSettingsProblems("alice", withChanges("alice", { endpoint: { kind: "managed", apiVersions } }));
    expect(managed(["2026-09-30.dahlia", pinned])).toEqual([]);
    expect(managed(["2026-08-27.dahlia", "2026-09-30.dahlia", pinned])).toEqual([expect.stringContaining("more than two versions")]);
    expect(managed([pinned, pinned])).toEqual(["endpoint.apiVersions lists a version twice."]);
    expect(managed([pinned, "latest"])).toEqual([expect.stringContaining('"latest"')]);
    expect(managed([])).toEqual([expect.stringContaining("must list the endpoint's API version")]);
  });

  it("refuse a shared endpoint for a live stage, and a test-mode production", () => {
    expect(stageSettingsProblems("live-copy", withChanges("alice", { mode: "live", endpoint: { kind: "shared" } }))).toEqual([
      expect.stringContaining("a shared endpoint is for test-mode stages"),
    ]);
    expect(stageSettingsProblems("production", withChanges("production", { mode: "test" }))).toEqual([expect.stringContaining('its mode must be "live"')]);
  });

  it("refuse plain OAC, which cannot pass Stripe's POSTs", () => {
    const settings = { ...stageSettings("production"), protection: "oac" } as unknown as StageSettings;
    expect(stageSettingsProblems("production", settings)).toEqual([expect.stringContaining("no x-amz-content-sha256 header")]);
  });

  it("refuse a region, domain, WAF limit, reserved concurrency or log retention AWS would not take", () => {
    const settings = {
      ...stageSettings("production"),
      region: "US-East-1",
      domain: "Webhooks.Example.com",
      waf: { rateLimitPerIp: 5, stripeIpAllowlist: true },
      reservedConcurrency: 2.5,
      logRetention: "forever",
    } as unknown as StageSettings;
    const problems = stageSettingsProblems("production", settings);
    expect(problems).toHaveLength(5);
    expect(problems.join("\n")).toMatch(/region[\s\S]*domain[\s\S]*waf\.rateLimitPerIp[\s\S]*reservedConcurrency[\s\S]*logRetention/);
  });
});

describe("infra/stripe-webhook-ips.json", () => {
  const file = JSON.parse(readFileSync(join(root, "infra/stripe-webhook-ips.json"), "utf8")) as Record<string, unknown>;

  it("says where the list comes from and when it was taken", () => {
    expect(file.source).toBe("https://stripe.com/files/ips/ips_webhooks.json");
    expect(file.documentation).toBe("https://docs.stripe.com/ips#webhook-notifications");
    expect(file.retrievedAt).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("holds distinct IPv4 addresses, in the shape the refresh script writes", () => {
    const addresses = parseStripeWebhookIps({ WEBHOOKS: file.addresses });
    expect(addresses).toEqual(file.addresses);
    const rewritten = JSON.parse(renderIpFile(addresses, String(file.retrievedAt))) as Record<string, unknown>;
    expect(Object.keys(rewritten).sort()).toEqual(Object.keys(file).sort());
  });
});

describe("the refresh script", () => {
  it("refuses a payload that is not Stripe's list, rather than writing an empty allowlist", () => {
    expect(() => parseStripeWebhookIps({})).toThrow(/no "WEBHOOKS" addresses/);
    expect(() => parseStripeWebhookIps({ WEBHOOKS: [] })).toThrow(/no "WEBHOOKS" addresses/);
    expect(() => parseStripeWebhookIps({ WEBHOOKS: ["3.18.12.63", "3.18.12.0/24"] })).toThrow(/3\.18\.12\.0\/24/);
  });

  it("reports what Stripe added and removed", () => {
    expect(compareAddresses(["1.1.1.1", "2.2.2.2"], ["2.2.2.2", "3.3.3.3"])).toEqual({ added: ["3.3.3.3"], removed: ["1.1.1.1"] });
  });
});
