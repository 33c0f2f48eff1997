import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventCatalog } from "../../packages/core/src/catalog.ts";
import { ledgerHandlerActions, ledgerTable } from "../../packages/core/src/ledger-table.ts";
import { webhookPath } from "../../packages/core/src/webhook-path.ts";
import { mockEndpointSecret } from "./synth/mocks.ts";
import { all, only, root, synth, type SynthResult } from "./synth/synth.ts";

/*
 * Runs the real sst.config.ts the way `sst deploy` evaluates it, under Pulumi mocks (AWS and
 * Stripe cannot be reached here), and asserts the resource graph each stage would deploy.
 */

const override = "whsec_rotated_by_sst_secret_set";
const domain = "webhooks.example.com";
let dev: SynthResult;
let production: SynthResult;
let overridden: SynthResult;
let cyclic: SynthResult;

beforeAll(async () => {
  // Independent processes; run them side by side to keep the suite short.
  [dev, production, overridden, cyclic] = await Promise.all([
    synth("sst.config.ts", "dev"),
    synth("sst.config.ts", "production", { STRIPE_WEBHOOKS_DOMAIN: domain }),
    synth("sst.config.ts", "dev", { SST_SECRET_StripeWebhookSecret: override }),
    synth("test/infra/fixtures/cyclic/sst.config.ts", "dev"),
  ]);
}, 180_000);

afterAll(() => {
  for (const result of [dev, production, overridden, cyclic]) {
    if (result) rmSync(result.scratch, { recursive: true, force: true });
  }
});

/** Reads the linked resources the way the deployed function does: `sst/resource` + resource.enc. */
function readLinksFromBundle(result: SynthResult) {
  const build = result.builds?.[0];
  if (!build) throw new Error("no function was built");
  const fn = only(result, "aws:lambda/function:Function");
  const variables = (fn.environment as { variables: Record<string, string> }).variables;
  const bundle = pathToFileURL(join(build.out, "packages/functions/src/webhook.mjs")).href;
  const script = `
    const mod = await import(${JSON.stringify(bundle)});
    const { Resource } = await import("sst/resource");
    console.log(JSON.stringify({ handler: typeof mod.handler, secret: Resource.StripeWebhookSecret.value, table: Resource.Ledger.name }));
  `;
  const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: root,
    env: { PATH: process.env.PATH, SST_KEY: variables.SST_KEY, SST_KEY_FILE: join(build.out, "resource.enc"), SST_RESOURCE_App: variables.SST_RESOURCE_App },
    encoding: "utf8",
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as { handler: string; secret: string; table: string };
}

describe("a development stage", () => {
  it("completes without errors", () => {
    expect(dev.error).toBeUndefined();
    expect(dev.errors).toEqual([]);
    expect(dev.ok).toBe(true);
  });

  it("creates the ledger table from core's key schema, with TTL and on-demand billing, without PITR", () => {
    const table = only(dev, "aws:dynamodb/table:Table");
    expect(table.hashKey).toBe(ledgerTable.partitionKey);
    expect(table.rangeKey).toBeUndefined();
    expect(table.attributes).toEqual([{ name: ledgerTable.partitionKey, type: "S" }]);
    expect(table.ttl).toEqual({ attributeName: ledgerTable.ttlAttribute, enabled: true });
    expect(table.billingMode).toBe("PAY_PER_REQUEST");
    expect(table.pointInTimeRecovery).toEqual({ enabled: false });
  });

  it("points the Stripe endpoint at the router's URL plus the webhook path", () => {
    const distribution = dev.registrations.find((r) => r.type === "aws:cloudfront/distribution:Distribution");
    const routerUrl = `https://${String(distribution?.state.domainName)}`;
    const endpoint = only(dev, "stripe:index/webhookEndpoint:WebhookEndpoint");
    expect(endpoint.url).toBe(`${routerUrl}${webhookPath}`);
    expect(dev.outputs?.webhookUrl).toBe(endpoint.url);
    // Never the function's own URL: that is the cycle.
    expect(String(endpoint.url)).not.toContain("lambda-url");
  });

  it("subscribes the endpoint to exactly the catalog and pins the stripe package's API version", () => {
    const endpoint = only(dev, "stripe:index/webhookEndpoint:WebhookEndpoint");
    expect(endpoint.enabledEvents).toEqual([...eventCatalog]);
    expect(endpoint.enabledEvents).not.toContain("*");
    expect(endpoint.apiVersion).toBe(Stripe.API_VERSION);
    expect(endpoint.description).toBe("stripe-webhooks (dev)");
    expect(endpoint.metadata).toEqual({ app: "stripe-webhooks", stage: "dev" });
  });

  it("builds the handler with the secret and the table linked, and the bundle reads them back", () => {
    expect(dev.builds).toHaveLength(1);
    const build = dev.builds![0]!;
    expect(build.handler).toBe("packages/functions/src/webhook.handler");
    expect(Object.keys(build.links).sort()).toEqual(["Ledger", "StripeWebhookSecret"]);
    expect(build.links.StripeWebhookSecret?.value).toBe(mockEndpointSecret);
    expect(build.links.Ledger?.name).toBe(dev.outputs?.table);
    expect(existsSync(join(build.out, "resource.enc"))).toBe(true);
    expect(readLinksFromBundle(dev)).toEqual({ handler: "function", secret: mockEndpointSecret, table: dev.outputs?.table });
  });

  it("grants the handler only the DynamoDB actions the ledger performs, on the ledger table only", () => {
    const role = only(dev, "aws:iam/role:Role");
    const policies = role.inlinePolicies as { name: string; policy: string }[];
    expect(policies).toHaveLength(1);
    const document = JSON.parse(policies[0]!.policy) as { Statement: { Effect: string; Action: string[]; Resource: string[] }[] };
    const tableArn = dev.registrations.find((r) => r.type === "aws:dynamodb/table:Table")?.state.arn;
    expect(document.Statement).toEqual([{ Effect: "Allow", Action: [...ledgerHandlerActions], Resource: [tableArn] }]);
    // SST's default table link would grant dynamodb:* on the table and its indexes.
    expect(JSON.stringify(role)).not.toMatch(/dynamodb:\*|\/\*"/);
    expect(role.managedPolicyArns).toEqual(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]);
  });

  it("runs the function on Node.js arm64 in test mode with the chosen memory, timeout and log retention", () => {
    const fn = only(dev, "aws:lambda/function:Function");
    expect(fn.runtime).toMatch(/^nodejs\d+\.x$/);
    expect(fn.architectures).toEqual(["arm64"]);
    expect(fn.memorySize).toBe(512);
    expect(fn.timeout).toBe(10);
    expect((fn.environment as { variables: Record<string, string> }).variables.STRIPE_MODE).toBe("test");
    expect(fn.reservedConcurrentExecutions).toBeUndefined();
    expect(only(dev, "aws:cloudwatch/logGroup:LogGroup").retentionInDays).toBe(7);
  });

  it("serves the function URL without IAM auth (Stripe cannot sign AWS requests) and without CORS", () => {
    const url = only(dev, "aws:lambda/functionUrl:FunctionUrl");
    expect(url.authorizationType).toBe("NONE");
    expect(url.cors).toBeUndefined();
  });

  it("stays lean: no custom domain, no WAF", () => {
    expect(all(dev, "aws:wafv2/webAcl:WebAcl")).toEqual([]);
    expect(all(dev, "aws:acm/certificate:Certificate")).toEqual([]);
    expect(only(dev, "aws:cloudfront/distribution:Distribution").aliases).toEqual([]);
  });

  it("returns the webhook URL, table name and endpoint id, and no secret", () => {
    expect(Object.keys(dev.outputs ?? {}).filter((key) => !key.startsWith("_")).sort()).toEqual(["stripeEndpointId", "table", "webhookUrl"]);
    expect(dev.outputs?.stripeEndpointId).toBe("StripeWebhookEndpoint-id");
    expect(JSON.stringify(dev.outputs)).not.toContain(mockEndpointSecret);
  });
});

describe("the production stage", () => {
  it("completes without errors", () => {
    expect(production.error).toBeUndefined();
    expect(production.errors).toEqual([]);
    expect(production.ok).toBe(true);
  });

  it("switches on PITR, the custom domain and the WAF rate limit, with no body-inspecting managed rules", () => {
    expect(only(production, "aws:dynamodb/table:Table").pointInTimeRecovery).toEqual({ enabled: true });
    expect(only(production, "aws:cloudfront/distribution:Distribution").aliases).toEqual([domain]);
    expect(only(production, "stripe:index/webhookEndpoint:WebhookEndpoint").url).toBe(`https://${domain}${webhookPath}`);
    const waf = only(production, "aws:wafv2/webAcl:WebAcl");
    const rules = waf.rules as { name: string; statement: Record<string, { limit?: number; aggregateKeyType?: string }> }[];
    expect(rules).toHaveLength(1);
    expect(rules[0]?.statement.rateBasedStatement).toMatchObject({ aggregateKeyType: "IP", limit: 20_000 });
    expect(JSON.stringify(rules)).not.toContain("managedRuleGroupStatement");
  });

  it("accepts live-mode events, reserves concurrency and keeps logs longer", () => {
    const fn = only(production, "aws:lambda/function:Function");
    expect((fn.environment as { variables: Record<string, string> }).variables.STRIPE_MODE).toBe("live");
    expect(fn.reservedConcurrentExecutions).toBe(50);
    expect(only(production, "aws:cloudwatch/logGroup:LogGroup").retentionInDays).toBe(90);
  });
});

describe("sst secret set StripeWebhookSecret", () => {
  it("overrides the endpoint's secret in the function's links and bundle", () => {
    expect(overridden.ok).toBe(true);
    expect(overridden.builds?.[0]?.links.StripeWebhookSecret?.value).toBe(override);
    expect(readLinksFromBundle(overridden).secret).toBe(override);
    // The endpoint is still managed; only the value the function trusts changed.
    expect(all(overridden, "stripe:index/webhookEndpoint:WebhookEndpoint")).toHaveLength(1);
  });
});

describe("the cycle detector", () => {
  it("fails the deliberately cyclic config within seconds, naming the stuck resources", () => {
    expect(cyclic.ok).toBe(false);
    expect(cyclic.error).toMatch(/never completed/);
    expect(cyclic.stuck).toEqual(
      expect.arrayContaining([
        'stripe:index/webhookEndpoint:WebhookEndpoint "StripeWebhookEndpoint"',
        'aws:lambda/functionUrl:FunctionUrl "WebhookHandlerUrl"',
      ]),
    );
    // Nothing after the cycle was built: the function was never bundled.
    expect(cyclic.registrations.some((r) => r.type === "aws:lambda/function:Function")).toBe(false);
    expect(cyclic.elapsedMs).toBeLessThan(30_000);
  });
});
