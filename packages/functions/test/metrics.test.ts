import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { HandlerRegistry } from "@stripe-webhooks/core/dispatch";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { metricNames, metricsNamespace, outcomeMetricName } from "@stripe-webhooks/core/metrics";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { startStripeApiDouble, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { startDynalite, testAwsEnvironment, type Engine } from "@stripe-webhooks/testing/engines";
import type { EncodedQueueMessage } from "@stripe-webhooks/core/queue-message";
import type { Context, LambdaFunctionURLEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../src/logger.ts";
import { createMetrics } from "../src/metrics.ts";
import { createQueueConsumerHandler } from "../src/queue-consumer-handler.ts";
import { createReconcileHandler } from "../src/reconcile-handler.ts";
import { createWebhookHandler } from "../src/webhook-handler.ts";

/*
 * What the functions count, as the CloudWatch EMF lines Powertools Metrics writes to stdout:
 * the alarms in infra read exactly these names. Stripe's API is the test kit's double (Stripe
 * cannot be reached from here), reached by the real `stripe` SDK.
 */

const secret = newWebhookSecret();
const apiKey = "rk_test_metricsTestKey";
const endpointId = "we_metricsTest";

interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

// Every EMF line written while `run` runs, with everything else the functions log.
async function capture<T>(run: () => Promise<T>): Promise<{ value: T | undefined; error: unknown; emf: Emf[]; text: string }> {
  const chunks: string[] = [];
  const keep = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(keep);
  const err = vi.spyOn(process.stderr, "write").mockImplementation(keep);
  let value: T | undefined;
  let error: unknown;
  try {
    value = await run();
  } catch (thrown) {
    error = thrown;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const lines = chunks.join("").split("\n").filter((line) => line.startsWith("{"));
  const emf = lines.map((line) => JSON.parse(line) as Emf).filter((line) => line._aws !== undefined);
  return { value, error, emf, text: chunks.join("") };
}

// The value each metric name got across the lines (a name in several lines adds up).
function totals(emf: Emf[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const line of emf) {
    for (const directive of line._aws.CloudWatchMetrics) {
      expect(directive.Namespace).toBe(metricsNamespace);
      for (const { Name } of directive.Metrics) {
        const value = line[Name];
        const values = Array.isArray(value) ? value : [value];
        sums[Name] = (sums[Name] ?? 0) + values.reduce((sum: number, item) => sum + Number(item), 0);
      }
    }
  }
  return sums;
}

function urlEvent(body: string, signature: string): LambdaFunctionURLEvent {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/stripe/webhook",
    rawQueryString: "",
    headers: { "content-type": "application/json", "stripe-signature": signature },
    requestContext: {
      accountId: "anonymous",
      apiId: "abc",
      domainName: "abc.lambda-url.us-east-1.on.aws",
      domainPrefix: "abc",
      http: { method: "POST", path: "/stripe/webhook", protocol: "HTTP/1.1", sourceIp: "3.18.12.63", userAgent: "Stripe/1.0" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body,
    isBase64Encoded: false,
  };
}

let engine: Engine;
let dynamo: DynamoDBClient;
let table: string;
let stripe: StripeApiDouble;

beforeAll(async () => {
  engine = await startDynalite();
  table = await engine.createLedgerTable();
  dynamo = new DynamoDBClient({
    endpoint: engine.endpoint,
    region: testAwsEnvironment.AWS_REGION,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  stripe = await startStripeApiDouble({ apiKeys: [apiKey] });
});

afterAll(async () => {
  dynamo.destroy();
  await stripe.close();
  await engine.stop();
});

function failing(): HandlerRegistry {
  return {
    ...entitlementHandlers,
    "invoice.paid": async () => {
      throw new Error("CRM down");
    },
  };
}

describe("webhook metrics", () => {
  it("count deliveries, handler failures, 5xx answers and invalid signatures, published per invocation", async () => {
    const handler = createWebhookHandler({
      dynamo,
      settings: () => ({ webhookSecret: secret, tableName: table, mode: "test" }),
      registry: failing(),
      logger: createLogger(),
      metrics: createMetrics("test"),
    });
    const ok = JSON.stringify(buildEvent("checkout.session.completed"), null, 2);
    const failed = JSON.stringify(buildEvent("invoice.paid"), null, 2);

    const { emf } = await capture(async () => {
      await handler(urlEvent(ok, signPayload(ok, secret)));
      await handler(urlEvent(failed, signPayload(failed, secret)));
      await handler(urlEvent(ok, signPayload(ok, newWebhookSecret())));
    });

    expect(totals(emf)).toMatchObject({
      [metricNames.deliveries]: 3,
      [metricNames.handlerFailures]: 1,
      [metricNames.serverErrors]: 1,
      [metricNames.invalidSignatures]: 1,
      [outcomeMetricName("processed")]: 1,
      [outcomeMetricName("handler_failed")]: 1,
      [outcomeMetricName("invalid_signature")]: 1,
    });
    // One EMF line per invocation, with the stage and service as its only dimensions.
    expect(emf).toHaveLength(3);
    for (const line of emf) expect(line._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([["service", "stage"]]);
  });
});

describe("queued processing metrics", () => {
  it("count an event sent to the queue, and one the consumer dead-letters", async () => {
    const sent: EncodedQueueMessage[] = [];
    const handler = createWebhookHandler({
      dynamo,
      settings: () => ({ webhookSecret: secret, tableName: table, mode: "test", processing: "queued" }),
      queue: { send: async (message) => void sent.push(message) },
      registry: failing(),
      logger: createLogger(),
      metrics: createMetrics("test"),
    });
    const failed = JSON.stringify(buildEvent("invoice.paid"), null, 2);
    const webhook = await capture(() => handler(urlEvent(failed, signPayload(failed, secret))));
    expect(totals(webhook.emf)).toMatchObject({ [metricNames.deliveries]: 1, [metricNames.eventsQueued]: 1, [outcomeMetricName("queued")]: 1 });
    expect(sent).toHaveLength(1);

    const deadLettered: string[] = [];
    const consumer = createQueueConsumerHandler({
      dynamo,
      settings: () => ({ tableName: table, mode: "test" }),
      registry: failing(),
      logger: createLogger(),
      metrics: createMetrics("test"),
      control: { changeVisibility: async () => undefined, deadLetter: async (record) => void deadLettered.push(record.messageId) },
      consumer: () => ({ maxReceives: 1, leaseSeconds: 60 }),
    });
    const message = sent[0]!.input;
    const record: SQSRecord = {
      messageId: "m-1",
      receiptHandle: "r-1",
      body: message.MessageBody,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(Date.now()),
        SenderId: "webhook",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
        MessageGroupId: message.MessageGroupId,
        MessageDeduplicationId: message.MessageDeduplicationId,
        SequenceNumber: "1",
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:queue.fifo",
      awsRegion: "us-east-1",
    };
    const consumed = await capture(() => consumer({ Records: [record] }, {} as Context));
    expect(consumed.value).toEqual({ batchItemFailures: [] });
    expect(deadLettered).toEqual(["m-1"]);
    expect(totals(consumed.emf)).toMatchObject({
      [metricNames.handlerFailures]: 1,
      [metricNames.eventsDeadLettered]: 1,
      [outcomeMetricName("handler_failed")]: 1,
    });
  });
});

describe("reconciler metrics", () => {
  function reconciler(key = apiKey) {
    return createReconcileHandler({
      dynamo,
      settings: () => ({ apiKey: key, apiBase: stripe.url, endpointId, tableName: table, mode: "test" }),
      registry: entitlementHandlers,
      logger: createLogger(),
      metrics: createMetrics("test"),
    });
  }

  it("count a run, the events it recovered and a disabled endpoint", async () => {
    stripe.setEndpoint({ id: endpointId, status: "disabled", created: Math.floor(Date.now() / 1000) - 86_400 });
    const missed = buildEvent("invoice.paid", { created: Math.floor(Date.now() / 1000) - 3_600 });
    stripe.addEvent(missed, { delivered: true });

    const { value, emf, text } = await capture(reconciler());

    expect(value).toMatchObject({ recovered: 1, endpoint: { status: "disabled" } });
    expect(totals(emf)).toMatchObject({
      [metricNames.reconcilerRuns]: 1,
      [metricNames.eventsRecovered]: 1,
      [metricNames.endpointDisabled]: 1,
      [metricNames.reconcilerErrors]: 0,
    });
    expect(text).toContain("disabled");
  });

  it("count a run that fails on a key Stripe refuses as a reconciler error, and rethrow", async () => {
    const { error, emf, text } = await capture(reconciler("rk_test_notAKeyStripeKnows"));

    expect(error).toMatchObject({ name: "StripeMisconfiguredError" });
    expect(totals(emf)).toMatchObject({ [metricNames.reconcilerErrors]: 1 });
    expect(totals(emf)[metricNames.reconcilerRuns]).toBeUndefined();
    expect(text).not.toContain("rk_test_notAKeyStripeKnows");
  });
});
