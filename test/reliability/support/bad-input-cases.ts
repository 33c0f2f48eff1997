import { gzipSync } from "node:zlib";
import { maxBodyBytes } from "@stripe-webhooks/core/limits";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import {
  delivery,
  jsonRequest,
  nowSeconds,
  plantedEvent,
  sign,
  v1,
  type Delivery,
  type RawRequest,
} from "./deliveries.ts";
import type { Answer } from "./handler-module.ts";
import type { LeakWatch } from "./leaks.ts";
import { sleep } from "./random.ts";

/*
 * The bad-input table. Each case builds its request afresh (signatures are time-bound), runs
 * over HTTP against `npm start` and directly against the Lambda entry, and states its answer.
 * A refusal must leave the ledger byte-for-byte unchanged and run no handler; the few accepted
 * controls show the refusals are not a handler that refuses everything.
 */

export interface CaseContext {
  watch: LeakWatch;
  /** The secret the stage holds (with `previousSecret`, as during a rotation). */
  secret: string;
  previousSecret: string;
  /** Sends over the same transport; for cases that first need a genuine delivery. */
  send(request: RawRequest): Promise<Answer>;
}

export interface BadInputCase {
  name: string;
  status: number;
  /** The `error` (refusals) or `result` (controls) code of the answer. */
  code: string;
  build(context: CaseContext): RawRequest | Promise<RawRequest>;
  /** A change to the function URL event only the direct path can make (a transport bug). */
  lambdaEvent?: (event: LambdaFunctionURLEvent) => LambdaFunctionURLEvent;
  /** Accepted controls: the handler runs this many times and the ledger gains an entry. */
  accepted?: { runs: number };
}

const fresh = (
  context: CaseContext,
  type = "invoice.paid",
  options: Partial<Parameters<typeof delivery>[2]> = {},
): Delivery => delivery(context.watch, type, { secret: context.secret, ...options });

/** The delivery's body with another Stripe-Signature value. */
function withHeader(context: CaseContext, header: string | string[] | undefined, base = fresh(context)): RawRequest {
  const headers = Array.isArray(header) ? header.map((value) => context.watch.header(value)) : header;
  if (typeof headers === "string") context.watch.header(headers);
  const request = jsonRequest(base.payload, undefined);
  if (headers !== undefined) request.headers["stripe-signature"] = headers;
  return request;
}

/** A body signed correctly with the stage's secret. */
function signedBody(context: CaseContext, body: string | Buffer): RawRequest {
  const t = nowSeconds();
  const header = context.watch.header(`t=${t},v1=${v1(context.secret, t, body)}`);
  return jsonRequest(body, header);
}

/** A Stripe event with its envelope changed by `change`, signed correctly. */
function signedEnvelope(context: CaseContext, change: (event: Record<string, unknown>) => void): RawRequest {
  const event: Record<string, unknown> = plantedEvent(context.watch, "invoice.paid");
  change(event);
  return signedBody(context, JSON.stringify(event, null, 2));
}

function signatureOf(header: string): string {
  return /v1=([0-9a-f]+)/.exec(header)?.[1] ?? "";
}

const signatureCases: BadInputCase[] = [
  { name: "no Stripe-Signature header", status: 400, code: "invalid_signature", build: (c) => withHeader(c, undefined) },
  { name: "an empty Stripe-Signature header", status: 400, code: "invalid_signature", build: (c) => withHeader(c, "") },
  { name: "a Stripe-Signature header of blanks", status: 400, code: "invalid_signature", build: (c) => withHeader(c, "   ") },
  {
    name: "Stripe-Signature sent twice: the genuine one, then a forged one with another t",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, [genuine.header, `t=${nowSeconds() - 10},v1=${"ab".repeat(32)}`], genuine);
    },
  },
  {
    name: "no t= (only the genuine v1)",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, `v1=${signatureOf(genuine.header)}`, genuine);
    },
  },
  {
    name: "a t= that is not a number",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, `t=soon,v1=${signatureOf(genuine.header)}`, genuine);
    },
  },
  {
    name: "an empty t=",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, `t=,v1=${signatureOf(genuine.header)}`, genuine);
    },
  },
  {
    name: "no v1= (timestamp only)",
    status: 400,
    code: "invalid_signature",
    build: (c) => withHeader(c, `t=${nowSeconds()}`),
  },
  {
    name: "only a v0= signature (a correct HMAC under the retired scheme)",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const base = fresh(c);
      const t = nowSeconds();
      return withHeader(c, `t=${t},v0=${v1(c.secret, t, base.payload)}`, base);
    },
  },
  {
    name: "a v1 of odd length (the genuine one minus a digit)",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, genuine.header.slice(0, -1), genuine);
    },
  },
  {
    name: "a v1 that is not hex",
    status: 400,
    code: "invalid_signature",
    build: (c) => withHeader(c, `t=${nowSeconds()},v1=${"zq".repeat(32)}`),
  },
  {
    name: "the genuine v1 in upper-case hex",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      const signature = signatureOf(genuine.header);
      return withHeader(c, genuine.header.replace(signature, signature.toUpperCase()), genuine);
    },
  },
  { name: "an empty v1=", status: 400, code: "invalid_signature", build: (c) => withHeader(c, `t=${nowSeconds()},v1=`) },
  {
    name: "a blank after the comma (Stripe never sends one)",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, genuine.header.replace(",", ", "), genuine);
    },
  },
  {
    name: "a huge header: 150 forged v1 signatures (10 KB)",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const t = nowSeconds();
      const forged = Array.from({ length: 150 }, (_, i) => `v1=${i.toString(16).padStart(2, "0").repeat(32)}`);
      return withHeader(c, [`t=${t}`, ...forged].join(","));
    },
  },
  {
    name: "a fresh t= prepended to a signature stamped an hour ahead",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const base = fresh(c);
      const ahead = sign(c.watch, base.payload, c.secret, nowSeconds() + 3600);
      return withHeader(c, `t=${nowSeconds()},${ahead}`, base);
    },
  },
  {
    name: "the genuine header of another event",
    status: 400,
    code: "invalid_signature",
    build: (c) => withHeader(c, fresh(c).header, fresh(c)),
  },
  {
    name: "the genuine v1 with its t= moved by one second",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const t = nowSeconds();
      const genuine = fresh(c, "invoice.paid", { timestamp: t });
      return withHeader(c, genuine.header.replace(`t=${t}`, `t=${t - 1}`), genuine);
    },
  },
  {
    name: "signed with a secret the stage does not hold",
    status: 400,
    code: "invalid_signature",
    build: (c) => fresh(c, "invoice.paid", { secret: c.watch.secret(`whsec_${"x".repeat(32)}`) }).request,
  },
  {
    name: "signed with the secret's key without its whsec_ prefix",
    status: 400,
    code: "invalid_signature",
    build: (c) => fresh(c, "invoice.paid", { secret: c.secret.slice("whsec_".length) }).request,
  },
];

const payloadCases: BadInputCase[] = [
  {
    name: "the body changed by one byte after signing",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      const body = Buffer.from(genuine.payload, "utf8");
      const at = body.indexOf('"amount_due"');
      body[at + 1] = "b".charCodeAt(0);
      return withHeader(c, genuine.header, { ...genuine, payload: body.toString("utf8") });
    },
  },
  {
    name: "the body re-serialized (same JSON, compact)",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, genuine.header, { ...genuine, payload: JSON.stringify(genuine.event) });
    },
  },
  {
    name: "a trailing newline added to the body",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, genuine.header, { ...genuine, payload: `${genuine.payload}\n` });
    },
  },
  {
    name: "a byte-order mark prepended to the body",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, genuine.header, { ...genuine, payload: `\uFEFF${genuine.payload}` });
    },
  },
  {
    name: "the body truncated by its last byte",
    status: 400,
    code: "invalid_signature",
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, genuine.header, { ...genuine, payload: genuine.payload.slice(0, -1) });
    },
  },
];

const timeCases: BadInputCase[] = [
  {
    name: "a signature 301 s old (past the 300 s tolerance)",
    status: 400,
    code: "invalid_signature",
    build: (c) => fresh(c, "invoice.paid", { timestamp: nowSeconds() - 301 }).request,
  },
  {
    name: "a signature 120 s in the future (past the 60 s skew)",
    status: 400,
    code: "invalid_signature",
    build: (c) => fresh(c, "invoice.paid", { timestamp: nowSeconds() + 120 }).request,
  },
  {
    name: "a signature stamped in the year 2100",
    status: 400,
    code: "invalid_signature",
    build: (c) => fresh(c, "invoice.paid", { timestamp: 4_102_444_800 }).request,
  },
  {
    name: "a replay of a processed delivery once its signature is past the tolerance",
    status: 400,
    code: "invalid_signature",
    build: async (c) => {
      // Delivered (and processed) with a signature 298 s old, replayed once it is 301 s old.
      const t = nowSeconds() - 298;
      const genuine = fresh(c, "invoice.paid", { timestamp: t });
      const first = await c.send(genuine.request);
      if (first.status !== 200) throw new Error(`the genuine delivery was answered ${first.status}`);
      while (nowSeconds() - t <= 300) await sleep(100);
      return genuine.request;
    },
  },
];

const bodyCases: BadInputCase[] = [
  {
    name: "isBase64Encoded with a body that is not base64",
    status: 400,
    code: "unreadable_body",
    build: (c) => fresh(c).request,
    lambdaEvent: (event) => ({ ...event, body: "%%% not base64 at all ***", isBase64Encoded: true }),
  },
  {
    name: "isBase64Encoded on a body that was never encoded",
    status: 400,
    code: "unreadable_body",
    build: (c) => fresh(c).request,
    lambdaEvent: (event) => ({ ...event, isBase64Encoded: true }),
  },
  {
    name: "a signed body one byte over the 1 MiB cap",
    status: 413,
    code: "payload_too_large",
    build: (c) => signedBody(c, JSON.stringify({ pad: "x".repeat(maxBodyBytes - 9) })),
  },
  {
    name: "an unsigned 3 MiB body",
    status: 413,
    code: "payload_too_large",
    build: () => jsonRequest(Buffer.alloc(3 * 1024 * 1024, "a"), undefined),
  },
  { name: "an empty body, signed", status: 400, code: "unreadable_body", build: (c) => signedBody(c, "") },
  { name: "an empty body, unsigned", status: 400, code: "unreadable_body", build: () => jsonRequest("", undefined) },
  {
    name: "a body that is not UTF-8, signed over its bytes",
    status: 400,
    code: "unreadable_body",
    build: (c) => signedBody(c, Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0xff, 0xfe, 0x7d])),
  },
  {
    name: "a genuine delivery gzip-compressed, with Content-Encoding: gzip",
    status: 400,
    code: "unreadable_body",
    build: (c) => {
      const genuine = fresh(c);
      const request = jsonRequest(gzipSync(genuine.payload), genuine.header);
      return { ...request, headers: { ...request.headers, "content-encoding": "gzip" } };
    },
  },
  {
    name: "a genuine delivery gzip-compressed, without a Content-Encoding (gzip's magic bytes)",
    status: 400,
    code: "unreadable_body",
    build: (c) => {
      const genuine = fresh(c);
      return jsonRequest(gzipSync(genuine.payload), genuine.header);
    },
  },
  {
    name: "a genuine delivery declared Content-Encoding: br (a proxy's header on an uncompressed body)",
    status: 400,
    code: "unreadable_body",
    build: (c) => {
      const { request } = fresh(c);
      return { ...request, headers: { ...request.headers, "content-encoding": "br" } };
    },
  },
  { name: "a body that is not JSON, signed", status: 400, code: "malformed_event", build: (c) => signedBody(c, "{not json") },
  { name: "a JSON array, signed", status: 400, code: "malformed_event", build: (c) => signedBody(c, "[1,2,3]") },
  { name: "JSON null, signed", status: 400, code: "malformed_event", build: (c) => signedBody(c, "null") },
  { name: "a JSON string, signed", status: 400, code: "malformed_event", build: (c) => signedBody(c, '"evt_1"') },
  {
    name: "a JSON object that is not an event, signed",
    status: 400,
    code: "malformed_event",
    build: (c) => signedBody(c, JSON.stringify({ hello: c.watch.marker() })),
  },
  {
    name: "an event without an id",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => delete event.id),
  },
  {
    name: "an event with an empty id",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.id = "")),
  },
  {
    name: "an event without a type",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => delete event.type),
  },
  {
    name: "an event whose type is a number",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.type = 42)),
  },
  {
    name: "an event without created",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => delete event.created),
  },
  {
    name: "an event whose livemode is a string",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.livemode = "false")),
  },
  {
    name: "an event without data.object",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.data = {})),
  },
  {
    name: "an event whose id is the reconciler's state key (reconciler#local)",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.id = "reconciler#local")),
  },
  {
    name: "an event whose id is an effects key (app#entitlement#cus_x)",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.id = "app#entitlement#cus_x")),
  },
  {
    name: "an event whose id is not an event id (not-an-event-id)",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.id = "not-an-event-id")),
  },
  {
    name: "an event whose id is 3,000 characters (past DynamoDB's key limit)",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.id = `evt_${"A1".repeat(1498)}`)),
  },
  {
    name: "an event whose id holds a control character",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.id = "evt_abc\u0000def")),
  },
  {
    name: "an event without an api_version key",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => delete event.api_version),
  },
  {
    name: "an event created 1e20",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.created = 1e20)),
  },
  {
    name: "an event whose created is in milliseconds",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.created = Date.now())),
  },
  {
    name: "an event whose type is 100,000 characters",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.type = "a".repeat(100_000))),
  },
  {
    name: "an event whose type holds a right-to-left override",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.type = "invoice.\u202epaid")),
  },
  {
    name: "an event whose account is not an account id",
    status: 400,
    code: "malformed_event",
    build: (c) => signedEnvelope(c, (event) => (event.account = 42)),
  },
  {
    name: "a v2 thin event notification",
    status: 400,
    code: "malformed_event",
    build: (c) =>
      signedBody(
        c,
        JSON.stringify({ id: "evt_test_65R0", object: "v2.core.event", type: "v1.billing.meter.error_report_triggered", created: "2026-01-01T00:00:00.000Z", livemode: false }),
      ),
  },
];

const transportCases: BadInputCase[] = [
  { name: "GET", status: 405, code: "method_not_allowed", build: () => ({ method: "GET", headers: {} }) },
  { name: "PUT of a genuine delivery", status: 405, code: "method_not_allowed", build: (c) => ({ ...fresh(c).request, method: "PUT" }) },
  { name: "DELETE", status: 405, code: "method_not_allowed", build: () => ({ method: "DELETE", headers: {} }) },
  {
    name: "a genuine delivery without a content type",
    status: 415,
    code: "unsupported_media_type",
    build: (c) => {
      const { request } = fresh(c);
      delete request.headers["content-type"];
      return request;
    },
  },
  {
    name: "a genuine delivery as text/plain",
    status: 415,
    code: "unsupported_media_type",
    build: (c) => jsonRequest(fresh(c).payload, undefined, "text/plain"),
  },
  {
    name: "a genuine delivery as a form",
    status: 415,
    code: "unsupported_media_type",
    build: (c) => {
      const genuine = fresh(c);
      return { ...genuine.request, headers: { ...genuine.request.headers, "content-type": "application/x-www-form-urlencoded" } };
    },
  },
  {
    name: "a genuine delivery as application/jsonx",
    status: 415,
    code: "unsupported_media_type",
    build: (c) => {
      const genuine = fresh(c);
      return { ...genuine.request, headers: { ...genuine.request.headers, "content-type": "application/jsonx" } };
    },
  },
  {
    name: "a genuine live-mode event on this test-mode stage",
    status: 422,
    code: "livemode_mismatch",
    build: (c) => fresh(c, "invoice.paid", { livemode: true }).request,
  },
];

const controls: BadInputCase[] = [
  {
    name: "control: an event with fields no version of Stripe has, at the top and in the object",
    status: 200,
    code: "processed",
    accepted: { runs: 1 },
    build: (c) => {
      const event: Record<string, unknown> = plantedEvent(c.watch, "invoice.paid", { object: { x_unknown_field: { nested: [1, 2] } } });
      event.x_future_envelope_field = "2099";
      return signedBody(c, JSON.stringify(event, null, 2));
    },
  },
  {
    name: "control: an event holding a __proto__ key (no prototype is polluted)",
    status: 200,
    code: "processed",
    accepted: { runs: 1 },
    build: (c) => {
      const payload = JSON.stringify(plantedEvent(c.watch, "invoice.paid"), null, 2).replace("{", '{\n  "__proto__": { "polluted": true },');
      return signedBody(c, payload);
    },
  },
  {
    name: "control: Content-Encoding: identity (no encoding)",
    status: 200,
    code: "processed",
    accepted: { runs: 1 },
    build: (c) => {
      const { request } = fresh(c);
      return { ...request, headers: { ...request.headers, "content-encoding": "identity" } };
    },
  },
  {
    name: "control: a Connect event (an account id) with a null api_version",
    status: 200,
    code: "processed",
    accepted: { runs: 1 },
    build: (c) => signedBody(c, JSON.stringify(plantedEvent(c.watch, "invoice.paid", { account: "acct_1Nv0FGQ9RKHgCVdK", apiVersion: null }), null, 2)),
  },
  {
    name: "control: Content-Type in capitals with a charset",
    status: 200,
    code: "processed",
    accepted: { runs: 1 },
    build: (c) => {
      const genuine = fresh(c);
      return jsonRequest(genuine.payload, genuine.header, "APPLICATION/JSON; Charset=UTF-8");
    },
  },
  {
    name: "control: the genuine header sent twice (identical copies)",
    status: 200,
    code: "processed",
    accepted: { runs: 1 },
    build: (c) => {
      const genuine = fresh(c);
      return withHeader(c, [genuine.header, genuine.header], genuine);
    },
  },
  {
    name: "control: signed with the secret being rotated out",
    status: 200,
    code: "processed",
    accepted: { runs: 1 },
    build: (c) => fresh(c, "checkout.session.completed", { secret: c.previousSecret }).request,
  },
  {
    name: "control: a genuine event of a type outside the catalog (recorded ignored, no handler)",
    status: 200,
    code: "ignored",
    accepted: { runs: 0 },
    build: (c) => fresh(c, "customer.created").request,
  },
];

export const badInputCases: BadInputCase[] = [
  ...signatureCases,
  ...payloadCases,
  ...timeCases,
  ...bodyCases,
  ...transportCases,
  ...controls,
];
