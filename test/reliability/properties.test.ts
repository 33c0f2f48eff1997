import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createWebhookApp, type WebhookApp } from "@stripe-webhooks/core/app";
import type { WebhookRequest } from "@stripe-webhooks/core/request";
import { startDynalite, type Engine } from "@stripe-webhooks/testing/engines";
import { newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";
import fc from "fast-check";
import { isUtf8 } from "node:buffer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { delivery, nowSeconds, v1, type Delivery } from "./support/deliveries.ts";
import { FigureBook } from "./support/figures.ts";
import { effectRegistry, stageDependencies } from "./support/handler-module.ts";
import { expectNoLeaks, LeakWatch } from "./support/leaks.ts";

/*
 * Property-based tests (fast-check) of header parsing and body decoding, through the whole
 * pipeline as the Lambda entry assembles it, on dynalite: whatever arrives, the handler answers
 * (never throws) with one of the documented statuses, and runs nothing unless it answers 200.
 * These properties are about what happens before the ledger, so one engine is enough.
 */

const watch = new LeakWatch();
const secret = watch.secret(newWebhookSecret());
const book = new FigureBook("properties");
/** Every status the pipeline documents (README, http.ts). */
const documented = new Set([200, 400, 405, 409, 413, 415, 422, 500]);
const statuses = new Map<number, number>();

let engine: Engine;
let client: DynamoDBClient;
let table: string;
const registry = effectRegistry(async () => undefined);
let app: WebhookApp;
// A small cap, so that some of the generated bodies are over it.
let smallCapApp: WebhookApp;

beforeAll(async () => {
  watch.startCapture();
  engine = await startDynalite();
  client = engine.client();
  table = await engine.createLedgerTable();
  const deps = stageDependencies({ client, table, secrets: [secret], registry: registry.registry });
  app = createWebhookApp(deps);
  smallCapApp = createWebhookApp({ ...deps, maxBodyBytes: 256 });
  book.ranOn(engine.name);
});

afterAll(async () => {
  watch.stopCapture();
  client.destroy();
  await engine.stop();
  book.write();
});

/** Runs the pipeline; a throw fails the property. Returns the status and the answer's code. */
async function answer(request: WebhookRequest, target: WebhookApp = app): Promise<{ status: number; code: string; runs: number }> {
  const before = registry.effects.count();
  const response = await target.handleWebhook(request);
  watch.shown("pipeline answer", JSON.stringify(response));
  statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
  book.add("property inputs");
  const body = JSON.parse(response.body) as { result?: string; error?: string };
  return { status: response.statusCode, code: body.result ?? body.error ?? "", runs: registry.effects.count() - before };
}

function request(body: string | undefined, headers: Record<string, string | undefined>, extra: Partial<WebhookRequest> = {}): WebhookRequest {
  return { method: "POST", headers: { "content-type": "application/json", ...headers }, body, isBase64Encoded: false, ...extra };
}

const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 70 });

describe("Stripe-Signature parsing", () => {
  let genuine: Delivery;
  let validT: number;
  let validSig: string;

  beforeAll(() => {
    validT = nowSeconds();
    genuine = delivery(watch, "invoice.paid", { secret, timestamp: validT });
    validSig = /v1=([0-9a-f]{64})/.exec(genuine.header)?.[1] ?? "";
  });

  // Parts a header is made of: the genuine ones, near misses, and noise.
  const part = () =>
    fc.oneof(
      fc.constant(`t=${validT}`),
      fc.integer({ min: -1e12, max: 1e12 }).map((t) => `t=${t}`),
      fc.string({ maxLength: 12 }).map((t) => `t=${t}`),
      fc.constant(`v1=${validSig}`),
      hex.map((sig) => `v1=${sig}`),
      fc.constant(`v1=${validSig.slice(0, 63)}`),
      fc.constant(`v0=${validSig}`),
      fc.string({ maxLength: 20 }),
      fc.constantFrom("", "=", "v1", "t", " v1=", "v1==", `V1=${validSig}`, `t =${validT}`),
    );
  const headers = () =>
    fc.oneof(
      fc.array(part(), { maxLength: 8 }).map((parts) => parts.join(",")),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 200 }),
    );

  it("never throws; answers 200 only for a header holding the genuine v1, else 400 invalid_signature", async () => {
    await fc.assert(
      fc.asyncProperty(headers(), async (header) => {
        watch.header(header);
        const { status, code, runs } = await answer(request(genuine.payload, { "stripe-signature": header }));
        expect(documented.has(status)).toBe(true);
        const hasGenuine = header.split(",").some((item) => item.split("=")[0] === "v1" && item.split("=")[1] === validSig);
        if (status === 200) expect(hasGenuine).toBe(true);
        else expect(`${status} ${code}`).toBe("400 invalid_signature");
        expect(runs).toBeLessThanOrEqual(status === 200 ? 1 : 0);
      }),
      { numRuns: 400 },
    );
    expect(registry.effects.count(genuine.event.id)).toBeLessThanOrEqual(1);
    book.add("header property runs", 400);
  });
});

describe("body decoding", () => {
  // Weighted towards what gets past the first checks, so the later ones are exercised too.
  const methods = fc.oneof(
    { arbitrary: fc.constant("POST"), weight: 6 },
    { arbitrary: fc.constantFrom("post", "GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"), weight: 1 },
    { arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/), weight: 1 },
  );
  const contentTypes = fc.oneof(
    { arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8", "APPLICATION/JSON"), weight: 6 },
    { arbitrary: fc.constantFrom("text/plain", "application/octet-stream", "", "application/json;;", "application/jsonp"), weight: 1 },
    { arbitrary: fc.string({ maxLength: 60 }), weight: 1 },
  );
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
    fc.json({ maxDepth: 4 }).map((text) => Buffer.from(text)),
    fc.string({ unit: "grapheme", maxLength: 500 }).map((text) => Buffer.from(text)),
  );

  it("never throws, for any bytes, base64 flag, content type, method and signature; nothing runs without a 200", async () => {
    await fc.assert(
      fc.asyncProperty(bodies, fc.boolean(), fc.oneof(fc.constant("valid"), fc.constant("none"), fc.string({ maxLength: 40 })), contentTypes, methods, fc.boolean(), async (bytes, base64, signing, contentType, method, garbleBase64) => {
        const t = nowSeconds();
        const header = signing === "valid" ? watch.header(`t=${t},v1=${v1(secret, t, bytes)}`) : signing === "none" ? undefined : signing;
        const body = base64 ? bytes.toString("base64") + (garbleBase64 ? "%*!" : "") : bytes.toString("utf8");
        const { status, runs } = await answer(
          request(body, { "stripe-signature": header, "content-type": contentType }, { method, isBase64Encoded: base64 }),
          smallCapApp,
        );
        expect(documented.has(status)).toBe(true);
        expect(status).not.toBe(500);
        if (status !== 200) expect(runs).toBe(0);
      }),
      { numRuns: 400 },
    );
    book.add("body property runs", 400);
  });

  it("refuses a genuine delivery with any one byte changed", async () => {
    const genuine = delivery(watch, "invoice.paid", { secret });
    const bytes = Buffer.from(genuine.payload, "utf8");
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, delta) => {
        const changed = Buffer.from(bytes);
        changed[at] = ((changed[at] ?? 0) + delta) % 256;
        const base64 = at % 2 === 0;
        const { status, code, runs } = await answer(
          request(base64 ? changed.toString("base64") : changed.toString("utf8"), { "stripe-signature": genuine.header }, { isBase64Encoded: base64 }),
        );
        // Bytes that are no longer UTF-8 (which only the base64 transport carries as they are; a
        // text body has them replaced) are refused for that, before any secret is tried.
        const expected = base64 && !isUtf8(changed) ? "400 unreadable_body" : "400 invalid_signature";
        expect(`${status} ${code}`).toBe(expected);
        expect(runs).toBe(0);
      }),
      { numRuns: 200 },
    );
    book.add("one-byte change property runs", 200);
  });

  it("accepts a genuine delivery of any Unicode content byte for byte, base64-encoded by the transport or not", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 80 }), fc.boolean(), async (text, base64) => {
        const genuine = delivery(watch, "customer.subscription.updated", { secret, object: { description: text } });
        const bytes = Buffer.from(genuine.payload, "utf8");
        const { status, code, runs } = await answer(
          request(base64 ? bytes.toString("base64") : genuine.payload, { "stripe-signature": genuine.header }, { isBase64Encoded: base64 }),
        );
        expect(`${status} ${code}`).toBe("200 processed");
        expect(runs).toBe(1);
      }),
      { numRuns: 100 },
    );
    book.add("unicode round-trip property runs", 100);
  });
});

describe("leak scan of this suite", () => {
  it("finds no secret, Stripe-Signature value or planted payload marker in any answer or log line", () => {
    for (const [status, count] of statuses) book.add(`property answers ${status}`, count);
    expectNoLeaks(watch, book);
  });
});
