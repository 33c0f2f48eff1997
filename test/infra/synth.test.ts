import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventCatalog } from "../../packages/core/src/catalog.ts";
import { ledgerHandlerActions, ledgerTable } from "../../packages/core/src/ledger-table.ts";
import { consumerLeaseSeconds } from "../../packages/core/src/limits.ts";
import { stripeApiVersion } from "../../packages/core/src/stripe-version.ts";
import { webhookPath } from "../../packages/core/src/webhook-path.ts";
import { metricNames, metricsNamespace, metricsService } from "../../packages/core/src/metrics.ts";
import { endpointResourceName, stageSettings } from "../../infra/stage.ts";
import { secretFingerprint, splitSecretList } from "../../packages/core/src/signing-secrets.ts";
import { mockEndpointId, mockEndpointSecret } from "./synth/mocks.ts";
import { all, named, only, root, synth, type SynthResult } from "./synth/synth.ts";

/*
 * Runs the real sst.config.ts the way `sst deploy` evaluates it, under Pulumi mocks (AWS and
 * Stripe cannot be reached here), and asserts the resource graph each stage would deploy.
 * Where a case needs settings no preset has (a domain, a migration, a bad value), the harness
 * edits infra/stage.ts's presets for that run, as a team would edit the file.
 */

const endpointType = "stripe:index/webhookEndpoint:WebhookEndpoint";
const functionType = "aws:lambda/function:Function";
const domain = "webhooks.example.com";
// The deploy's key (the provider creates endpoints with it) and the functions' read key (StripeApiKey).
const readKey = { SST_SECRET_StripeApiKey: "rk_test_synthReadKey0000" };
const testKey = { STRIPE_API_KEY: "rk_test_synthKey0000", ...readKey };
const liveKey = { STRIPE_API_KEY: "rk_live_synthKey0000", SST_SECRET_StripeApiKey: "rk_live_synthReadKey0000" };
const alarmEmail = "payments-oncall@example.com";
const current = endpointResourceName(stripeApiVersion);
// An older API version, as if the pin had just moved past it and its endpoint were draining.
const previousApiVersion = "2026-09-30.dahlia";
const previous = endpointResourceName(previousApiVersion);
const stripeIps = (JSON.parse(readFileSync(join(root, "infra/stripe-webhook-ips.json"), "utf8")) as { addresses: string[] }).addresses;

const runs = {
  // AWS_REGION as a deploying shell might have it: the stage's region must not follow it.
  dev: () => synth("sst.config.ts", "dev", { env: { ...testKey, AWS_REGION: "eu-west-2" } }),
  // STRIPE_WEBHOOKS_DOMAIN is where the domain used to come from: it must have no effect now.
  // As if an SST upgrade changed the defaults of the Router's protection and the URL's authorization.
  devOnChangedSstDefaults: () => synth("sst.config.ts", "dev", { env: testKey, flipSstDefaults: true }),
  production: () => synth("sst.config.ts", "production", { env: { ...liveKey, STRIPE_WEBHOOKS_DOMAIN: domain } }),
  productionWithDomain: () =>
    synth("sst.config.ts", "production", {
      env: liveKey,
      stagePatch: {
        production: {
          domain,
          waf: { rateLimitPerIp: 20_000, stripeIpAllowlist: true },
          reservedConcurrency: 50,
          alarms: { email: alarmEmail, invalidSignaturesPer5Minutes: 50, oldestQueuedMessageMinutes: 30 },
        },
      },
    }),
  migration: () =>
    synth("sst.config.ts", "dev", {
      env: testKey,
      stagePatch: { development: { endpoint: { kind: "managed", apiVersions: [previousApiVersion, stripeApiVersion] } } },
    }),
  rotated: () =>
    synth("sst.config.ts", "dev", {
      env: { ...testKey, SST_SECRET_StripeWebhookSecret: `${mockEndpointId(current)}:whsec_rolled_new_1,${mockEndpointId(current)}:whsec_rolled_old_1` },
    }),
  replaced: () =>
    synth("sst.config.ts", "dev", {
      env: { ...testKey, SST_SECRET_StripeWebhookSecret: "we_EndpointThatWasReplaced:whsec_set_for_the_old_endpoint" },
    }),
  preview: () =>
    synth("sst.config.ts", "pr-12", { env: { ...readKey, SST_SECRET_StripeWebhookSecret: "we_SharedTestEndpoint:whsec_shared_endpoint_secret" } }),
  // Today's single-function path, chosen in infra/stage.ts.
  inline: () => synth("sst.config.ts", "dev", { env: testKey, stagePatch: { development: { processing: "inline" } } }),
  // After a roll because the creation secret leaked, the operator listed its fingerprint and then
  // ran `sst secret remove`: the deploy must not fall back to the leaked secret.
  removedAfterLeak: () =>
    synth("sst.config.ts", "dev", {
      env: testKey,
      stagePatch: { development: { revokedSecretFingerprints: [secretFingerprint(mockEndpointSecret(current))] } },
    }),
  // The roll itself: the override holds the new secret; the leaked one is listed and not set.
  rolledAfterLeak: () =>
    synth("sst.config.ts", "dev", {
      env: { ...testKey, SST_SECRET_StripeWebhookSecret: `${mockEndpointId(current)}:whsec_rolled_after_leak` },
      stagePatch: { development: { revokedSecretFingerprints: [secretFingerprint(mockEndpointSecret(current))] } },
    }),
  // The leaked secret pasted back into the override.
  revokedOverride: () =>
    synth("sst.config.ts", "dev", {
      env: { ...testKey, SST_SECRET_StripeWebhookSecret: `${mockEndpointId(current)}:whsec_leaked_and_revoked` },
      stagePatch: { development: { revokedSecretFingerprints: [secretFingerprint("whsec_leaked_and_revoked")] } },
    }),
  // A preview stage whose override came from `sst secret set --fallback` (shared by every stage without its own value).
  previewFallback: () =>
    synth("sst.config.ts", "pr-31", { env: { ...readKey, SST_SECRET_StripeWebhookSecret: "we_SharedTestEndpoint:whsec_fallback_for_previews" } }),
  // A development stage that inherited the previews' fallback: bound to an endpoint it does not have.
  devWithFallback: () =>
    synth("sst.config.ts", "bob", { env: { ...testKey, SST_SECRET_StripeWebhookSecret: "we_SharedTestEndpoint:whsec_fallback_for_previews" } }),
  withoutKey: () => synth("sst.config.ts", "dev"),
  // The deploy's key is there, the functions' read key is not (sst secret set StripeApiKey never ran).
  withoutReadKey: () => synth("sst.config.ts", "dev", { env: { STRIPE_API_KEY: testKey.STRIPE_API_KEY } }),
  // Everything preflight refuses at once: it reports every problem, one line each.
  refused: () =>
    synth("sst.config.ts", "production", {
      env: { ...testKey, SST_SECRET_StripeWebhookSecret: "whsec_unbound_legacy_value" },
      stagePatch: {
        production: {
          region: "Mars",
          protection: "oac",
          reservedConcurrency: 0,
          endpoint: { kind: "managed", apiVersions: [previousApiVersion] },
        },
      },
    }),
  cyclic: () => synth("test/infra/fixtures/cyclic/sst.config.ts", "dev"),
};
type RunName = keyof typeof runs;
const results = {} as Record<RunName, SynthResult>;

beforeAll(async () => {
  // Independent processes; synth() runs as many side by side as there are cores.
  const names = Object.keys(runs) as RunName[];
  const done = await Promise.all(names.map((name) => runs[name]()));
  names.forEach((name, index) => (results[name] = done[index]!));
}, 1_200_000);

afterAll(() => {
  for (const result of Object.values(results)) if (result) rmSync(result.scratch, { recursive: true, force: true });
});

/** The build of the function whose handler is `handler`. */
function buildOf(result: SynthResult, handler = "packages/functions/src/webhook.handler") {
  const build = result.builds?.find((candidate) => candidate.handler === handler);
  if (!build) throw new Error(`${handler} was not built`);
  return build;
}

/** Reads the linked resources the way the deployed function does: `sst/resource` + resource.enc. */
function readLinksFromBundle(result: SynthResult) {
  const build = buildOf(result);
  if (!build) throw new Error("no function was built");
  const fn = named(result, functionType, "WebhookHandlerFunction");
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

/** The secrets the function trusts, as its build links them. */
function linkedSecrets(result: SynthResult): string[] {
  return splitSecretList(String(buildOf(result).links.StripeWebhookSecret?.value)).map((entry) => entry.secret);
}

/** The linked value's entries, each secret with the endpoint it is bound to. */
function linkedBindings(result: SynthResult): string[] {
  return splitSecretList(String(buildOf(result).links.StripeWebhookSecret?.value)).map((entry) => `${entry.endpointId}:${entry.secret}`);
}

/** The components and resources the program constructed under `name`, by type. */
function constructedTypes(result: SynthResult, name: string): string[] {
  return result.constructed.filter((c) => c.name === name).map((c) => c.type);
}

function registeredNames(result: SynthResult, type: string): string[] {
  return result.registrations.filter((r) => r.type === type).map((r) => r.name);
}

interface PolicyStatement {
  Effect: string;
  Action: string[];
  Resource: string[];
}

/** The statements of the one inline policy of the role named `roleName`. */
function policyStatements(result: SynthResult, roleName: string): PolicyStatement[] {
  const role = named(result, "aws:iam/role:Role", roleName);
  const policies = role.inlinePolicies as { name: string; policy: string }[];
  expect(policies).toHaveLength(1);
  return (JSON.parse(policies[0]!.policy) as { Statement: PolicyStatement[] }).Statement;
}

/** Every action a role's inline policy allows, as "action on resource", sorted and without repeats. */
function grants(result: SynthResult, roleName: string): string[] {
  const pairs = policyStatements(result, roleName).flatMap((statement) => {
    expect(statement.Effect).toBe("Allow");
    return statement.Action.flatMap((action) => statement.Resource.map((resource) => `${action} on ${resource}`));
  });
  return [...new Set(pairs)].sort();
}

/** The state (outputs) of the registered resource of `type` named `name`. */
function stateOf(result: SynthResult, type: string, name: string): Record<string, unknown> {
  const found = result.registrations.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found.state;
}

const queueType = "aws:sqs/queue:Queue";

/** The queue's and the dead-letter queue's name, ARN and URL, as the mocked provider created them. */
function queuesOf(result: SynthResult) {
  const describe = (name: string) => {
    const state = stateOf(result, queueType, name);
    return { name: String(state.name), arn: String(state.arn), url: String(state.url) };
  };
  return { queue: describe("WebhookQueueQueue"), deadLetters: describe("WebhookDeadLetterQueueQueue") };
}

/** The name of the one registered resource of `type` whose name starts with the queue's subscriber's. */
function consumerResourceName(result: SynthResult, type: string): string {
  const found = registeredNames(result, type).filter((name) => name.startsWith("WebhookQueueSubscriber"));
  if (found.length !== 1) throw new Error(`expected one consumer ${type}, found ${found.join(", ") || "none"}`);
  return found[0]!;
}

const ledgerGrants = (tableArn: unknown) => ledgerHandlerActions.map((action) => `${action} on ${String(tableArn)}`);
const tableArnOf = (result: SynthResult) => result.registrations.find((r) => r.type === "aws:dynamodb/table:Table")?.state.arn;

function expectCompleted(result: SynthResult) {
  expect(result.error).toBeUndefined();
  expect(result.errors).toEqual([]);
  expect(result.ok).toBe(true);
}

/** A deploy stopped by preflight: an error, and not one resource constructed. */
function expectStoppedBeforeAnyResource(result: SynthResult) {
  expect(result.ok).toBe(false);
  expect(result.error).toMatch(/^Stage "[\w-]+" was not deployed; nothing was created or changed:/);
  expect(result.constructed).toEqual([]);
  // Pulumi's own stack resource exists before the program runs; nothing else may.
  expect(result.registrations.map((r) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
}

describe("a development stage", () => {
  const dev = () => results.dev;

  it("completes without errors", () => {
    expectCompleted(dev());
  });

  it("deploys to the stage's region, not the deploying environment's", () => {
    expect(dev().app?.providers.aws?.region).toBe("us-east-1");
  });

  it("creates the ledger table from core's key schema, with TTL and on-demand billing, without PITR", () => {
    const table = only(dev(), "aws:dynamodb/table:Table");
    expect(table.hashKey).toBe(ledgerTable.partitionKey);
    expect(table.rangeKey).toBeUndefined();
    expect(table.attributes).toEqual([{ name: ledgerTable.partitionKey, type: "S" }]);
    expect(table.ttl).toEqual({ attributeName: ledgerTable.ttlAttribute, enabled: true });
    expect(table.billingMode).toBe("PAY_PER_REQUEST");
    expect(table.pointInTimeRecovery).toEqual({ enabled: false });
  });

  it("points the Stripe endpoint at the router's URL plus the webhook path", () => {
    const distribution = dev().registrations.find((r) => r.type === "aws:cloudfront/distribution:Distribution");
    const routerUrl = `https://${String(distribution?.state.domainName)}`;
    const endpoint = only(dev(), endpointType);
    expect(endpoint.url).toBe(`${routerUrl}${webhookPath}`);
    expect(dev().outputs?.webhookUrl).toBe(endpoint.url);
    // Never the function's own URL: that is the cycle.
    expect(String(endpoint.url)).not.toContain("lambda-url");
  });

  it("subscribes the endpoint to exactly the catalog, at the API version pinned in stripe-version.ts, under its existing name", () => {
    expect(registeredNames(dev(), endpointType)).toEqual(["StripeWebhookEndpoint"]);
    const endpoint = only(dev(), endpointType);
    expect(endpoint.enabledEvents).toEqual([...eventCatalog]);
    expect(endpoint.enabledEvents).not.toContain("*");
    expect(endpoint.apiVersion).toBe(stripeApiVersion);
    // Replaces the endpoint if ever set: it must stay unset.
    expect(endpoint.connect).toBeUndefined();
    expect(endpoint.description).toBe("stripe-webhooks (dev)");
    expect(endpoint.metadata).toEqual({ app: "stripe-webhooks", stage: "dev" });
  });

  it("builds the handler with the secret, the table and the API key linked, and the bundle reads them back", () => {
    const result = dev();
    expect(result.builds?.map((build) => build.handler).sort()).toEqual([
      "packages/functions/src/queue-consumer.handler",
      "packages/functions/src/reconcile.handler",
      "packages/functions/src/webhook.handler",
    ]);
    const build = buildOf(result);
    // Queued (the preset's mode): the link to send to the queue besides.
    expect(Object.keys(build.links).sort()).toEqual(["Ledger", "StripeApiKey", "StripeWebhookSecret", "WebhookQueueSend"]);
    expect(build.links.StripeApiKey?.value).toBe(readKey.SST_SECRET_StripeApiKey);
    expect(build.links.StripeWebhookSecret?.value).toBe(`${mockEndpointId(current)}:${mockEndpointSecret(current)}`);
    expect(build.links.Ledger?.name).toBe(result.outputs?.table);
    expect(existsSync(join(build.out, "resource.enc"))).toBe(true);
    expect(readLinksFromBundle(result)).toEqual({
      handler: "function",
      secret: `${mockEndpointId(current)}:${mockEndpointSecret(current)}`,
      table: result.outputs?.table,
    });
  });

  it("grants the handler only the DynamoDB actions the ledger performs, on the ledger table only, besides sending to its queue", () => {
    const role = named(dev(), "aws:iam/role:Role", "WebhookHandlerRole");
    const tableArn = tableArnOf(dev());
    expect(policyStatements(dev(), "WebhookHandlerRole")).toEqual([
      { Effect: "Allow", Action: [...ledgerHandlerActions], Resource: [tableArn] },
      { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [queuesOf(dev()).queue.arn] },
    ]);
    // SST's default table link would grant dynamodb:* on the table and its indexes.
    expect(JSON.stringify(role)).not.toMatch(/dynamodb:\*|\/\*"/);
    expect(role.managedPolicyArns).toEqual(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]);
  });

  it("runs the function on Node.js arm64 in test mode with the chosen memory, timeout and log retention, sharing the account's concurrency", () => {
    const fn = named(dev(), functionType, "WebhookHandlerFunction");
    expect(fn.runtime).toMatch(/^nodejs\d+\.x$/);
    expect(fn.architectures).toEqual(["arm64"]);
    expect(fn.memorySize).toBe(512);
    expect(fn.timeout).toBe(10);
    expect((fn.environment as { variables: Record<string, string> }).variables.STRIPE_MODE).toBe("test");
    expect(fn.reservedConcurrentExecutions).toBeUndefined();
    // The webhook's, the reconciler's and the queue consumer's.
    expect(all(dev(), "aws:cloudwatch/logGroup:LogGroup").map((group) => group.retentionInDays)).toEqual([7, 7, 7]);
  });

  it("opts out of OAC: a public function URL without CORS, no edge signer, the router's protection stated as none", () => {
    const url = only(dev(), "aws:lambda/functionUrl:FunctionUrl");
    expect(url.authorizationType).toBe("NONE");
    expect(url.cors).toBeUndefined();
    // No edge signer: the webhook's function, the reconciler's and the queue consumer's, nothing else.
    expect(registeredNames(dev(), functionType).sort()).toEqual(
      ["ReconcilerHandlerFunction", consumerResourceName(dev(), functionType), "WebhookHandlerFunction"].sort(),
    );
    expect(registeredNames(dev(), "aws:lambda/permission:Permission").sort()).toEqual([
      "ReconcilerPermission",
      "WebhookHandlerPublicFunctionUrlAccess",
      "WebhookHandlerPublicInvokeFunction",
    ]);
    const distribution = only(dev(), "aws:cloudfront/distribution:Distribution");
    expect((distribution.tags as Record<string, string>)["sst:ref:protection"]).toBe("none");
  });

  it("keeps its protection and function URL authorization when SST's defaults for them change", () => {
    const result = results.devOnChangedSstDefaults;
    expectCompleted(result);
    expect(only(result, "aws:lambda/functionUrl:FunctionUrl").authorizationType).toBe("NONE");
    expect(registeredNames(result, functionType).sort()).toEqual(
      ["ReconcilerHandlerFunction", consumerResourceName(result, functionType), "WebhookHandlerFunction"].sort(),
    );
    expect((only(result, "aws:cloudfront/distribution:Distribution").tags as Record<string, string>)["sst:ref:protection"]).toBe("none");
  });

  it("stays lean: no custom domain, no WAF", () => {
    expect(all(dev(), "aws:wafv2/webAcl:WebAcl")).toEqual([]);
    expect(all(dev(), "aws:wafv2/ipSet:IpSet")).toEqual([]);
    expect(all(dev(), "aws:acm/certificate:Certificate")).toEqual([]);
    expect(only(dev(), "aws:cloudfront/distribution:Distribution").aliases).toEqual([]);
  });

  it("sends what no route matches (a delivery before the function's route exists) to an origin that can only fail, so Stripe retries", () => {
    const distribution = only(dev(), "aws:cloudfront/distribution:Distribution");
    const origins = distribution.origins as { originId: string; domainName: string }[];
    expect(origins).toEqual([expect.objectContaining({ originId: "default", domainName: "unrouted.invalid" })]);
    expect((distribution.defaultCacheBehavior as { targetOriginId: string }).targetOriginId).toBe("default");
    // The route itself: the function URL behind the webhook path.
    const routes = dev().registrations.find((r) => r.name.startsWith("WebhookHandlerRoutesUpdate"));
    expect(String(routes?.inputs.entry)).toMatch(new RegExp(`^url,\\w+,,${webhookPath}$`));
  });

  it("returns the webhook URL, table name, endpoint id and queue URLs, and no secret", () => {
    const result = dev();
    expect(Object.keys(result.outputs ?? {}).filter((key) => !key.startsWith("_")).sort()).toEqual([
      "deadLetterQueue",
      "queue",
      "stripeEndpointId",
      "table",
      "webhookUrl",
    ]);
    expect(result.outputs).toMatchObject({ queue: queuesOf(result).queue.url, deadLetterQueue: queuesOf(result).deadLetters.url });
    expect(result.outputs?.stripeEndpointId).toBe(mockEndpointId(current));
    expect(JSON.stringify(result.outputs)).not.toContain(mockEndpointSecret(current));
  });
});

describe("the production stage", () => {
  const production = () => results.production;

  it("completes without errors", () => {
    expectCompleted(production());
  });

  it("protects the function URL with OAC and edge signing: IAM auth, only the router may invoke it, bodies hashed at the edge", () => {
    const result = production();
    expect(only(result, "aws:lambda/functionUrl:FunctionUrl").authorizationType).toBe("AWS_IAM");
    const distribution = result.registrations.find((r) => r.type === "aws:cloudfront/distribution:Distribution")!;
    // The webhook function's; the reconciler's lets EventBridge invoke it (asserted with the reconciler).
    const permissions = result.registrations
      .filter((r) => r.type === "aws:lambda/permission:Permission" && r.name !== "ReconcilerPermission")
      .map((r) => r.inputs as Record<string, unknown>);
    expect(permissions).toHaveLength(2);
    for (const permission of permissions) {
      expect(permission).toMatchObject({ principal: "cloudfront.amazonaws.com", sourceArn: distribution.state.arn });
    }
    expect(permissions.map((p) => p.action).sort()).toEqual(["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]);
    expect(JSON.stringify(permissions)).not.toContain('"principal":"*"');

    // The Lambda@Edge signer: an origin-request trigger that sees the body (to hash it).
    const edge = result.registrations.find((r) => r.type === functionType && r.name === "WebhookRouterEdgeFunction")!;
    expect(edge.inputs).toMatchObject({ publish: true, description: expect.stringContaining("OAC request signing") });
    const behavior = distribution.inputs.defaultCacheBehavior as { lambdaFunctionAssociations: unknown[] };
    expect(behavior.lambdaFunctionAssociations).toEqual([{ eventType: "origin-request", includeBody: true, lambdaArn: edge.state.qualifiedArn }]);
    expect((distribution.inputs.tags as Record<string, string>)["sst:ref:protection"]).toBe("oac-with-edge-signing");

    // The route tells CloudFront to sign requests to the function URL.
    const routeKey = result.registrations.find((r) => r.name.startsWith("WebhookHandlerRouteKey"))!;
    const metadata = JSON.parse((routeKey.inputs.entries as { metadata: string }).metadata) as { origin: { originAccessControlConfig: unknown } };
    expect(metadata.origin.originAccessControlConfig).toMatchObject({ enabled: true, signingBehavior: "always", originType: "lambda" });
  });

  it("switches on PITR and the WAF rate limit, with no body-inspecting managed rules and no IP allowlist", () => {
    expect(only(production(), "aws:dynamodb/table:Table").pointInTimeRecovery).toEqual({ enabled: true });
    const waf = only(production(), "aws:wafv2/webAcl:WebAcl");
    const rules = waf.rules as { name: string; statement: Record<string, { limit?: number; aggregateKeyType?: string }> }[];
    expect(rules).toHaveLength(1);
    expect(rules[0]?.statement.rateBasedStatement).toMatchObject({ aggregateKeyType: "IP", limit: 20_000 });
    expect(JSON.stringify(rules)).not.toContain("managedRuleGroupStatement");
    expect(all(production(), "aws:wafv2/ipSet:IpSet")).toEqual([]);
  });

  it("accepts live-mode events and keeps logs longer, without reserving concurrency unless asked to", () => {
    const fn = named(production(), functionType, "WebhookHandlerFunction");
    expect((fn.environment as { variables: Record<string, string> }).variables.STRIPE_MODE).toBe("live");
    expect(fn.reservedConcurrentExecutions).toBeUndefined();
    expect(buildOf(production(), "packages/functions/src/reconcile.handler").links.StripeEndpoint?.mode).toBe("live");
    expect(all(production(), "aws:cloudwatch/logGroup:LogGroup").map((group) => group.retentionInDays)).toEqual([90, 90, 90]);
  });

  it("has no domain until infra/stage.ts names one: the deploying environment cannot add or remove it", () => {
    expect(only(production(), "aws:cloudfront/distribution:Distribution").aliases).toEqual([]);
    expect(all(production(), "aws:acm/certificate:Certificate")).toEqual([]);
  });
});

describe("the production stage with a domain, the Stripe IP allowlist and reserved concurrency set in infra/stage.ts", () => {
  const result = () => results.productionWithDomain;

  it("completes without errors", () => {
    expectCompleted(result());
  });

  it("serves the domain, and Stripe posts to it", () => {
    expect(only(result(), "aws:cloudfront/distribution:Distribution").aliases).toEqual([domain]);
    expect(only(result(), "aws:acm/certificate:Certificate").domainName).toBe(domain);
    expect(only(result(), endpointType).url).toBe(`https://${domain}${webhookPath}`);
  });

  it("blocks every source outside Stripe's published webhook IPs at the WAF, after the rate limit", () => {
    const ipSet = result().registrations.find((r) => r.type === "aws:wafv2/ipSet:IpSet")!;
    expect(ipSet.inputs).toMatchObject({ scope: "CLOUDFRONT", region: "us-east-1", ipAddressVersion: "IPV4" });
    expect(ipSet.inputs.addresses).toEqual(stripeIps.map((ip) => `${ip}/32`));
    const rules = only(result(), "aws:wafv2/webAcl:WebAcl").rules as { name: string; priority: number; action: unknown; statement: unknown }[];
    expect(rules.map((rule) => [rule.name, rule.priority])).toEqual([
      ["RateLimitPerIP", 0],
      ["StripeWebhookIpsOnly", 1],
    ]);
    expect(rules[1]).toMatchObject({
      action: { block: {} },
      statement: { notStatement: { statements: [{ ipSetReferenceStatement: { arn: ipSet.state.arn } }] } },
    });
  });

  it("reserves the concurrency the stage asks for", () => {
    expect(named(result(), functionType, "WebhookHandlerFunction").reservedConcurrentExecutions).toBe(50);
  });
});

describe("an API version upgrade (infra/stage.ts listing the previous version beside the pinned one)", () => {
  const migration = () => results.migration;

  it("completes without errors", () => {
    expectCompleted(migration());
  });

  it("keeps the previous version's endpoint and creates the pinned version's beside it, identical but for the version", () => {
    expect(registeredNames(migration(), endpointType).sort()).toEqual([current, previous].sort());
    const [now, before] = [named(migration(), endpointType, current), named(migration(), endpointType, previous)];
    expect(now.apiVersion).toBe(stripeApiVersion);
    expect(before.apiVersion).toBe(previousApiVersion);
    // Same URL and events: Stripe sends every event to both, under one event id, and the ledger runs it once.
    const { apiVersion: _now, ...nowRest } = now;
    const { apiVersion: _before, ...beforeRest } = before;
    expect(nowRest).toEqual(beforeRest);
  });

  it("trusts both endpoints' secrets, the pinned version's first", () => {
    expect(linkedSecrets(migration())).toEqual([mockEndpointSecret(current), mockEndpointSecret(previous)]);
    expect(readLinksFromBundle(migration()).secret).toBe(
      `${mockEndpointId(current)}:${mockEndpointSecret(current)},${mockEndpointId(previous)}:${mockEndpointSecret(previous)}`,
    );
  });

  it("names the draining endpoint in the outputs", () => {
    expect(migration().outputs).toMatchObject({ stripeEndpointId: mockEndpointId(current), stripeDrainingEndpointId: mockEndpointId(previous) });
  });
});

describe("StripeWebhookSecret is an sst.Secret fed by the endpoints' signing secrets", () => {
  const presets = { dev: () => results.dev, production: () => results.production, preview: () => results.preview };

  for (const [preset, result] of Object.entries(presets)) {
    it(`${preset}: exactly one sst:sst:Secret of that name, no other resource of that name, and the function's link reads it`, () => {
      expectCompleted(result());
      expect(constructedTypes(result(), "StripeWebhookSecret")).toEqual(["sst:sst:Secret"]);
      expect(result().constructed.filter((c) => c.type === "sst:sst:Linkable").map((c) => c.name)).not.toContain("StripeWebhookSecret");
      // The link is the Secret's: SST types a Secret's link as sst.sst.Secret.
      expect(String(buildOf(result()).links.StripeWebhookSecret?.type)).toMatch(/(^|\$)sst\.sst\.Secret$/);
    });
  }

  it("without an override, its value is each endpoint's creation secret bound to the endpoint", () => {
    expect(linkedBindings(results.dev)).toEqual([`${mockEndpointId(current)}:${mockEndpointSecret(current)}`]);
    expect(linkedBindings(results.production)).toEqual([`${mockEndpointId(current)}:${mockEndpointSecret(current)}`]);
  });

  it("the platform reads an override only from SST_SECRET_<name>, while the Secret is constructed (what the resolution relies on)", () => {
    // infra/stripe.ts hides the raw override while it constructs the Secret, so the placeholder
    // (the resolved list) is its value. If SST ever reads the override anywhere else, or later,
    // the raw value would win: this fails first, and the "replaced" case below fails too.
    const platform = join(root, ".sst/platform/src");
    const readers = execFileSync("grep", ["-rln", "SST_SECRET_", platform], { encoding: "utf8" }).trim().split("\n");
    expect(readers.map((file) => file.slice(platform.length + 1))).toEqual(["components/secret.ts"]);
    const source = readFileSync(join(platform, "components/secret.ts"), "utf8");
    const constructor = source.slice(source.indexOf("constructor("), source.indexOf("public get name"));
    expect(constructor).toContain('process.env["SST_SECRET_" + this._name] ?? this._placeholder');
  });
});

describe("a roll after a leak", () => {
  it("with the new secret set and the leaked one revoked: the function trusts only the new secret", () => {
    const result = results.rolledAfterLeak;
    expectCompleted(result);
    expect(linkedBindings(result)).toEqual([`${mockEndpointId(current)}:whsec_rolled_after_leak`]);
  });

  it("then sst secret remove: the deploy stops rather than fall back to the leaked creation secret, naming the command to run", () => {
    const result = results.removedAfterLeak;
    expect(result.ok).toBe(false);
    // Known only once the endpoint's secret resolves, so the program fails there, as a deploy would.
    expect(result.errors[0]).toContain(`Every signing secret StripeWebhookSecret would trust for ${mockEndpointId(current)} is revoked`);
    expect(result.errors[0]).toContain(`npx sst secret set StripeWebhookSecret "${mockEndpointId(current)}:whsec_..." --stage dev`);
    expect(result.errors.join("\n")).not.toContain(mockEndpointSecret(current));
    // The function's URL, which Stripe's deliveries need, waits on the value that failed.
    expect(result.stuck).toContain('aws:lambda/functionUrl:FunctionUrl "WebhookHandlerUrl"');
  });

  it("the leaked secret set again: refused before anything is created, without echoing it", () => {
    const result = results.revokedOverride;
    expectStoppedBeforeAnyResource(result);
    expect(result.error).toContain(`StripeWebhookSecret holds a revoked secret for ${mockEndpointId(current)} (fingerprint ${secretFingerprint("whsec_leaked_and_revoked")})`);
    expect(result.error).not.toContain("whsec_leaked_and_revoked");
  });
});

describe("sst secret set --fallback (the previews' shared endpoint)", () => {
  it("a preview stage trusts the fallback's secret for the shared endpoint", () => {
    expectCompleted(results.previewFallback);
    expect(linkedBindings(results.previewFallback)).toEqual(["we_SharedTestEndpoint:whsec_fallback_for_previews"]);
  });

  it("a stage with its own endpoint ignores the fallback with a warning and trusts its endpoint's secret", () => {
    const result = results.devWithFallback;
    expectCompleted(result);
    expect(linkedBindings(result)).toEqual([`${mockEndpointId(current)}:${mockEndpointSecret(current)}`]);
    expect(result.warnings).toEqual([expect.stringContaining('we_SharedTestEndpoint, which is not an endpoint of stage "bob"')]);
  });
});

describe("sst secret set StripeWebhookSecret", () => {
  it("bound to the stage's endpoint (a rotation): the function trusts the set secrets and no longer the endpoint's creation secret", () => {
    const rotated = results.rotated;
    expectCompleted(rotated);
    expect(linkedSecrets(rotated)).toEqual(["whsec_rolled_new_1", "whsec_rolled_old_1"]);
    expect(readLinksFromBundle(rotated).secret).not.toContain(mockEndpointSecret(current));
    expect(rotated.warnings).toEqual([]);
    // The endpoint is still managed; only the value the function trusts changed.
    expect(all(rotated, endpointType)).toHaveLength(1);
  });

  it("bound to an endpoint the stage no longer has (it was replaced): ignored with a warning, the current endpoint's own secret trusted", () => {
    const replaced = results.replaced;
    expectCompleted(replaced);
    expect(linkedSecrets(replaced)).toEqual([mockEndpointSecret(current)]);
    expect(replaced.warnings).toEqual([expect.stringContaining("we_EndpointThatWasReplaced, which is not an endpoint of stage \"dev\"; they are ignored")]);
    expect(replaced.warnings.join("\n")).not.toContain("whsec_");
  });

  it("without the endpoint it belongs to (the old format): the deploy stops before anything is created, saying how to bind it", () => {
    const result = results.refused;
    expectStoppedBeforeAnyResource(result);
    expect(result.error).toContain("StripeWebhookSecret is a signing secret without the endpoint it belongs to");
    expect(result.error).toContain('npx sst secret set StripeWebhookSecret "we_<endpoint id>:whsec_..." --stage production');
    expect(result.error).not.toContain("whsec_unbound_legacy_value");
  });
});

describe("a preview stage (pr-<n>)", () => {
  const preview = () => results.preview;

  it("creates no Stripe endpoint, needs no Stripe API key, and trusts the shared endpoint's secret", () => {
    expectCompleted(preview());
    expect(all(preview(), endpointType)).toEqual([]);
    expect(linkedSecrets(preview())).toEqual(["whsec_shared_endpoint_secret"]);
    expect(preview().outputs?.stripeEndpointId).toBe("we_SharedTestEndpoint");
  });
});

describe("queued processing (every preset's default)", () => {
  const presets = {
    dev: { result: () => results.dev, stage: "dev", settings: stageSettings("dev") },
    production: { result: () => results.production, stage: "production", settings: stageSettings("production") },
    preview: { result: () => results.preview, stage: "pr-12", settings: stageSettings("pr-12") },
  };
  const consumerHandler = "packages/functions/src/queue-consumer.handler";

  for (const [preset, { result, stage, settings }] of Object.entries(presets)) {
    const { consumerTimeoutSeconds, maxConcurrency, maxReceives, stripeRequestsPerSecond } = settings.queue;

    it(`${preset}: a FIFO queue and a FIFO dead-letter queue, deduplicated by the sender's id, redriving after SQS's backstop count`, () => {
      expectCompleted(result());
      expect(settings.processing).toBe("queued");
      const { queue, deadLetters } = queuesOf(result());
      const main = named(result(), queueType, "WebhookQueueQueue");
      const dlq = named(result(), queueType, "WebhookDeadLetterQueueQueue");
      expect(registeredNames(result(), queueType).sort()).toEqual(["WebhookDeadLetterQueueQueue", "WebhookQueueQueue"]);
      for (const fifo of [main, dlq]) {
        expect(fifo).toMatchObject({ fifoQueue: true, contentBasedDeduplication: false, messageRetentionSeconds: 14 * 24 * 3600 });
      }
      expect(queue.name).toMatch(/\.fifo$/);
      expect(deadLetters.name).toMatch(/\.fifo$/);
      // SQS's own count sits above the consumer's, which dead-letters first.
      expect(JSON.parse(String(main.redrivePolicy))).toEqual({ deadLetterTargetArn: deadLetters.arn, maxReceiveCount: maxReceives + 20 });
      expect(dlq.redrivePolicy).toBeUndefined();
    });

    it(`${preset}: the queue keeps a message invisible for at least six times the consumer's timeout`, () => {
      const consumer = named(result(), functionType, consumerResourceName(result(), functionType));
      expect(consumer.timeout).toBe(consumerTimeoutSeconds);
      const visibility = Number(named(result(), queueType, "WebhookQueueQueue").visibilityTimeoutSeconds);
      expect(visibility).toBeGreaterThanOrEqual(6 * Number(consumer.timeout));
      expect(visibility).toBeGreaterThan(consumerLeaseSeconds(consumerTimeoutSeconds));
    });

    it(`${preset}: the consumer runs on Node.js arm64 with minutes to work, its lease, receive count and share of the Stripe budget in its environment`, () => {
      const consumer = named(result(), functionType, consumerResourceName(result(), functionType));
      expect(consumer).toMatchObject({ runtime: "nodejs24.x", architectures: ["arm64"], memorySize: 512, timeout: consumerTimeoutSeconds });
      expect((consumer.environment as { variables: Record<string, string> }).variables).toMatchObject({
        STRIPE_MODE: settings.mode,
        QUEUE_MAX_RECEIVES: String(maxReceives),
        LEASE_SECONDS: String(consumerLeaseSeconds(consumerTimeoutSeconds)),
        STRIPE_REQUESTS_PER_SECOND: String(stripeRequestsPerSecond / maxConcurrency),
      });
      const retention = { "1 week": 7, "1 month": 30, "3 months": 90, "1 year": 365 }[settings.logRetention];
      const groups = all(result(), "aws:cloudwatch/logGroup:LogGroup");
      expect(groups).toHaveLength(3);
      for (const group of groups) expect(group.retentionInDays).toBe(retention);
    });

    it(`${preset}: an event source mapping of batches of 10, reporting item failures, at most ${maxConcurrency} consumers at once`, () => {
      const { queue } = queuesOf(result());
      const mapping = only(result(), "aws:lambda/eventSourceMapping:EventSourceMapping");
      const consumerArn = stateOf(result(), functionType, consumerResourceName(result(), functionType)).arn;
      expect(mapping).toMatchObject({
        eventSourceArn: queue.arn,
        functionName: consumerArn,
        batchSize: 10,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: maxConcurrency },
      });
      // Lambda refuses a batching window on a FIFO event source.
      expect(mapping.maximumBatchingWindowInSeconds).toBeUndefined();
    });

    it(`${preset}: the webhook may only send to the queue; it cannot receive, delete or change a message`, () => {
      const { queue, deadLetters } = queuesOf(result());
      expect(grants(result(), "WebhookHandlerRole")).toEqual([...ledgerGrants(tableArnOf(result())), `sqs:SendMessage on ${queue.arn}`].sort());
      expect(JSON.stringify(named(result(), "aws:iam/role:Role", "WebhookHandlerRole"))).not.toContain(deadLetters.arn);
      const webhook = named(result(), functionType, "WebhookHandlerFunction");
      expect((webhook.environment as { variables: Record<string, string> }).variables.PROCESSING_MODE).toBe("queued");
      const build = buildOf(result());
      expect(build.links.WebhookQueueSend).toMatchObject({ url: queue.url });
      // Not the Queue components: linking one would grant sqs:* on it.
      expect(Object.keys(build.links)).not.toContain("WebhookQueue");
    });

    it(`${preset}: the reconciler, too, may only send to the queue`, () => {
      const { queue } = queuesOf(result());
      expect(grants(result(), "ReconcilerHandlerRole")).toEqual([...ledgerGrants(tableArnOf(result())), `sqs:SendMessage on ${queue.arn}`].sort());
      const reconciler = named(result(), functionType, "ReconcilerHandlerFunction");
      expect((reconciler.environment as { variables: Record<string, string> }).variables.PROCESSING_MODE).toBe("queued");
      expect(buildOf(result(), "packages/functions/src/reconcile.handler").links.WebhookQueueSend).toMatchObject({ url: queue.url });
    });

    it(`${preset}: the consumer gets what its event source mapping needs, defers on the queue, and sends only to the dead-letter queue`, () => {
      const { queue, deadLetters } = queuesOf(result());
      const role = consumerResourceName(result(), "aws:iam/role:Role");
      const onQueue = ["ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl", "ReceiveMessage"];
      expect(grants(result(), role)).toEqual(
        [
          ...ledgerGrants(tableArnOf(result())),
          ...onQueue.map((action) => `sqs:${action} on ${queue.arn}`),
          `sqs:SendMessage on ${deadLetters.arn}`,
        ].sort(),
      );
      expect(JSON.stringify(named(result(), "aws:iam/role:Role", role))).not.toContain("sqs:*");
      const build = buildOf(result(), consumerHandler);
      expect(Object.keys(build.links).sort()).toEqual(["Ledger", "QueueConsumerAccess", "StripeApiKey"]);
      expect(build.links.QueueConsumerAccess).toMatchObject({ url: deadLetters.url, queueUrl: queue.url });
      expect(build.links.Ledger?.name).toBe(result().outputs?.table);
    });

    it(`${preset}: alarms on a dead-lettered event and on the oldest message's age, into the stage's topic, with dashboard widgets`, () => {
      const { queue, deadLetters } = queuesOf(result());
      const topicArn = result().registrations.find((r) => r.type === "aws:sns/topic:Topic")?.state.arn;
      const sqsAlarms = all(result(), "aws:cloudwatch/metricAlarm:MetricAlarm")
        .filter((alarm) => alarm.namespace === "AWS/SQS")
        .sort((a, b) => String(a.metricName).localeCompare(String(b.metricName)));
      const common = { namespace: "AWS/SQS", comparisonOperator: "GreaterThanOrEqualToThreshold", treatMissingData: "notBreaching", alarmActions: [topicArn] };
      expect(sqsAlarms).toEqual([
        expect.objectContaining({
          ...common,
          name: `stripe-webhooks-${stage}-OldestQueuedMessage`,
          metricName: "ApproximateAgeOfOldestMessage",
          dimensions: { QueueName: queue.name },
          threshold: settings.alarms.oldestQueuedMessageMinutes * 60,
        }),
        expect.objectContaining({
          ...common,
          name: `stripe-webhooks-${stage}-DeadLetters`,
          metricName: "ApproximateNumberOfMessagesVisible",
          dimensions: { QueueName: deadLetters.name },
          threshold: 1,
        }),
      ]);
      const body = JSON.parse(String(only(result(), "aws:cloudwatch/dashboard:Dashboard").dashboardBody)) as {
        widgets: { properties: { metrics: unknown[][] } }[];
      };
      const metrics = body.widgets.flatMap((widget) => widget.properties.metrics);
      expect(metrics).toContainEqual(["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue.name]);
      expect(metrics).toContainEqual(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", deadLetters.name]);
      for (const name of [metricNames.eventsQueued, metricNames.eventsDeadLettered]) {
        expect(metrics).toContainEqual([metricsNamespace, name, "service", metricsService, "stage", stage]);
      }
    });
  }
});

describe("an inline stage (processing: \"inline\" in infra/stage.ts)", () => {
  const inline = () => results.inline;

  it("completes without errors, and creates no queue, no consumer and no event source mapping", () => {
    expectCompleted(inline());
    expect(all(inline(), queueType)).toEqual([]);
    expect(all(inline(), "aws:lambda/eventSourceMapping:EventSourceMapping")).toEqual([]);
    expect(registeredNames(inline(), functionType).sort()).toEqual(["ReconcilerHandlerFunction", "WebhookHandlerFunction"]);
    expect(inline().builds?.map((build) => build.handler).sort()).toEqual([
      "packages/functions/src/reconcile.handler",
      "packages/functions/src/webhook.handler",
    ]);
    expect(inline().constructed.map((c) => c.type)).not.toContain("sst:aws:Queue");
    expect(Object.keys(inline().outputs ?? {})).not.toContain("queue");
  });

  it("gives the webhook and the reconciler no SQS permission and no queue link, and tells them they run inline", () => {
    for (const [role, fn, handler] of [
      ["WebhookHandlerRole", "WebhookHandlerFunction", "packages/functions/src/webhook.handler"],
      ["ReconcilerHandlerRole", "ReconcilerHandlerFunction", "packages/functions/src/reconcile.handler"],
    ] as const) {
      expect(grants(inline(), role)).toEqual(ledgerGrants(tableArnOf(inline())).sort());
      expect(JSON.stringify(named(inline(), "aws:iam/role:Role", role))).not.toContain("sqs:");
      expect((named(inline(), functionType, fn).environment as { variables: Record<string, string> }).variables.PROCESSING_MODE).toBe("inline");
      expect(Object.keys(buildOf(inline(), handler).links)).not.toContain("WebhookQueueSend");
    }
    expect(Object.keys(buildOf(inline()).links).sort()).toEqual(["Ledger", "StripeApiKey", "StripeWebhookSecret"]);
  });

  it("raises no queue alarm and draws no queue widget", () => {
    expect(all(inline(), "aws:cloudwatch/metricAlarm:MetricAlarm").filter((alarm) => alarm.namespace === "AWS/SQS")).toEqual([]);
    expect(String(only(inline(), "aws:cloudwatch/dashboard:Dashboard").dashboardBody)).not.toContain("AWS/SQS");
  });
});

describe("the reconciler (a development stage)", () => {
  const dev = () => results.dev;

  it("runs core's reconciler on the stage's schedule, on Node.js arm64 in the stage's mode", () => {
    const rule = named(dev(), "aws:cloudwatch/eventRule:EventRule", "ReconcilerRule");
    expect(rule.scheduleExpression).toBe("rate(15 minutes)");
    // Only EventBridge's rule may invoke it.
    expect(named(dev(), "aws:lambda/permission:Permission", "ReconcilerPermission")).toMatchObject({
      principal: "events.amazonaws.com",
      sourceArn: dev().registrations.find((r) => r.name === "ReconcilerRule")?.state.arn,
    });
    const fn = named(dev(), functionType, "ReconcilerHandlerFunction");
    expect(fn).toMatchObject({ runtime: "nodejs24.x", architectures: ["arm64"], memorySize: 512, timeout: 120 });
    expect((fn.environment as { variables: Record<string, string> }).variables.STRIPE_MODE).toBe("test");
  });

  it("links the ledger, the API key, the stage's endpoint id and the queue to send to, and nothing else", () => {
    const build = buildOf(dev(), "packages/functions/src/reconcile.handler");
    expect(Object.keys(build.links).sort()).toEqual(["Ledger", "StripeApiKey", "StripeEndpoint", "WebhookQueueSend"]);
    expect(build.links.WebhookQueueSend?.url).toBe(queuesOf(dev()).queue.url);
    expect(build.links.StripeEndpoint?.id).toBe(dev().outputs?.stripeEndpointId);
    // The operator tools under `sst shell` take the stage's Stripe mode from here.
    expect(build.links.StripeEndpoint?.mode).toBe("test");
    expect(build.links.StripeApiKey?.value).toBe(readKey.SST_SECRET_StripeApiKey);
    expect(build.links.Ledger?.name).toBe(dev().outputs?.table);
  });

  it("may only do to the ledger table what the ledger does, and send to the queue, as the webhook function", () => {
    expect(grants(dev(), "ReconcilerHandlerRole")).toEqual(
      [...ledgerGrants(tableArnOf(dev())), `sqs:SendMessage on ${queuesOf(dev()).queue.arn}`].sort(),
    );
  });

  it("raises each alarm on the stage's own metrics into the stage's topic", () => {
    const topic = dev().registrations.find((r) => r.type === "aws:sns/topic:Topic");
    // The queues' alarms, on SQS's metrics, are asserted with queued processing.
    const alarms = all(dev(), "aws:cloudwatch/metricAlarm:MetricAlarm").filter((alarm) => alarm.namespace !== "AWS/SQS");
    expect(alarms.map((alarm) => alarm.metricName).sort()).toEqual(
      ["EndpointDisabled", "EventsRecovered", "HandlerFailures", "InvalidSignatures", "ReconcilerErrors", "ReconcilerRuns", "ServerErrors"],
    );
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({
        namespace: metricsNamespace,
        dimensions: { service: metricsService, stage: "dev" },
        alarmActions: [topic?.state.arn],
      });
    }
    const byMetric = Object.fromEntries(alarms.map((alarm) => [alarm.metricName, alarm]));
    // Silence is the failure for the heartbeat only.
    expect(byMetric.ReconcilerRuns).toMatchObject({ comparisonOperator: "LessThanThreshold", treatMissingData: "breaching" });
    expect(byMetric.EndpointDisabled).toMatchObject({ statistic: "Maximum", threshold: 1, treatMissingData: "notBreaching" });
    expect(byMetric.InvalidSignatures).toMatchObject({ threshold: 20 });
    expect(registeredNames(dev(), "aws:sns/topicSubscription:TopicSubscription")).toEqual([]);
  });

  it("draws the stage's dashboard from the same metrics", () => {
    const dashboard = only(dev(), "aws:cloudwatch/dashboard:Dashboard");
    expect(dashboard.dashboardName).toBe("stripe-webhooks-dev");
    const body = String(dashboard.dashboardBody);
    for (const name of Object.values(metricNames)) expect(body).toMatch(new RegExp(`\\\\?"${name}\\\\?"`));
  });
});

describe("alarms by e-mail (alarms.email set in infra/stage.ts)", () => {
  it("subscribes the address to the stage's topic, with the stage's own spike threshold", () => {
    const result = results.productionWithDomain;
    expect(only(result, "aws:sns/topicSubscription:TopicSubscription")).toMatchObject({ protocol: "email", endpoint: alarmEmail });
    const alarms = all(result, "aws:cloudwatch/metricAlarm:MetricAlarm");
    expect(alarms.find((alarm) => alarm.metricName === "InvalidSignatures")).toMatchObject({ threshold: 50 });
    expect(alarms.find((alarm) => alarm.metricName === "ApproximateAgeOfOldestMessage")).toMatchObject({ threshold: 30 * 60 });
  });
});

describe("preflight", () => {
  it("stops a deploy without STRIPE_API_KEY before any resource is registered", () => {
    const result = results.withoutKey;
    expectStoppedBeforeAnyResource(result);
    expect(result.error).toContain("STRIPE_API_KEY is not set");
  });

  it("stops a deploy without the StripeApiKey secret before any resource is registered, saying how to set it", () => {
    const result = results.withoutReadKey;
    expectStoppedBeforeAnyResource(result);
    expect(result.error).toContain("The StripeApiKey secret is not set for this stage: npx sst secret set StripeApiKey rk_test_... --stage dev");
    expect(result.error).not.toContain("STRIPE_API_KEY is not set");
  });

  it("stops a live stage deployed with a test-mode key, without echoing the key", () => {
    const result = results.refused;
    expectStoppedBeforeAnyResource(result);
    expect(result.error).toContain("The stage runs in Stripe live mode, but STRIPE_API_KEY is a test-mode key");
    expect(result.error).not.toContain(testKey.STRIPE_API_KEY);
  });

  it("stops invalid stage settings, a key of the wrong mode and an unbound secret together, one message each", () => {
    const result = results.refused;
    expectStoppedBeforeAnyResource(result);
    const lines = result.error!.split("\n").slice(1);
    expect(lines).toEqual([
      expect.stringMatching(/^  - infra\/stage.ts: region must be an AWS region such as "us-east-1", not "Mars"\.$/),
      expect.stringContaining(`infra/stage.ts: endpoint.apiVersions is [${previousApiVersion}], but the handler is built for ${stripeApiVersion}`),
      expect.stringContaining('infra/stage.ts: protection must be "oac-with-edge-signing" or "none", not "oac"'),
      expect.stringContaining("infra/stage.ts: reservedConcurrency must be a whole number of at least 1"),
      expect.stringContaining("STRIPE_API_KEY is a test-mode key"),
      expect.stringContaining("The StripeApiKey secret is a test-mode key, but the stage runs in Stripe live mode"),
      expect.stringContaining("StripeWebhookSecret is a signing secret without the endpoint it belongs to"),
    ]);
    // A pin the endpoints do not follow is refused with the upgrade procedure, not deployed as a replacement.
    expect(lines[1]).toContain("do not replace it");
  });
});

describe("the cycle detector", () => {
  it("fails the deliberately cyclic config once the program stalls, naming the stuck resources", () => {
    const cyclic = results.cyclic;
    expect(cyclic.ok).toBe(false);
    // Detected because the event loop drained, not because a clock ran out.
    expect(cyclic.error).toBe("event loop drained: the program never completed");
    expect(cyclic.stuck).toEqual(
      expect.arrayContaining([
        'stripe:index/webhookEndpoint:WebhookEndpoint "StripeWebhookEndpoint"',
        'aws:lambda/functionUrl:FunctionUrl "WebhookHandlerUrl"',
      ]),
    );
    // Nothing after the cycle was built: the function was never bundled.
    expect(cyclic.registrations.some((r) => r.type === functionType)).toBe(false);
  });
});
