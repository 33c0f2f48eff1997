import { createHmac, randomUUID } from "node:crypto";
import { buildEvent, signPayload, type BuildEventOptions } from "@stripe-webhooks/stripe-fixtures/events";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { toFunctionUrlEvent } from "../../../packages/scripts/src/receiver/function-url.ts";
import type { WebhookRequest } from "@stripe-webhooks/core/request";
import { toWebhookRequest as functionUrlRequest } from "@stripe-webhooks/functions/webhook-handler";
import type { LeakWatch } from "./leaks.ts";

/*
 * Deliveries as Stripe makes them (its example objects in a real envelope, pretty-printed,
 * signed by the `stripe` package), with marker strings planted in fields no log may quote, and
 * every secret and signature registered with the leak watch.
 */

export type StripeEvent = Record<string, unknown> & { id: string; type: string; created: number };

/** A request as it leaves the sender, before any transport turns it into a function URL event. */
export interface RawRequest {
  method: string;
  /** Lower- or mixed-case names; an array sends the header several times. */
  headers: Record<string, string | string[]>;
  body?: Buffer;
}

export interface Delivery {
  event: StripeEvent;
  payload: string;
  header: string;
  request: RawRequest;
}

export function nowSeconds(nowMs = Date.now()): number {
  return Math.floor(nowMs / 1000);
}

/** Stripe's example object for `type` with markers planted in fields that carry customer data. */
export function plantedEvent(watch: LeakWatch, type: string, options: BuildEventOptions = {}): StripeEvent {
  const marker = watch.marker();
  return buildEvent(type, {
    ...options,
    object: {
      description: `note ${marker}`,
      metadata: { internal_note: watch.marker() },
      customer_email: `${marker}@example.com`,
      ...options.object,
    },
  }) as StripeEvent;
}

/** The header Stripe sends for these bytes, registered with the watch. */
export function sign(watch: LeakWatch, payload: string, secret: string, timestamp?: number): string {
  return watch.header(signPayload(payload, secret, timestamp));
}

/** The v1 signature of raw bytes, as Stripe computes it over `<t>.<body>`. */
export function v1(secret: string, timestamp: number, body: Buffer | string): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** A header with one `v1` per secret over the same timestamp: what Stripe sends while a roll overlaps. */
export function multiSigned(watch: LeakWatch, payload: string, secrets: readonly string[], timestamp: number): string {
  return watch.header([`t=${timestamp}`, ...secrets.map((secret) => `v1=${v1(secret, timestamp, payload)}`)].join(","));
}

export function jsonRequest(body: Buffer | string, header: string | undefined, contentType = "application/json; charset=utf-8"): RawRequest {
  return {
    method: "POST",
    headers: { "content-type": contentType, ...(header === undefined ? {} : { "stripe-signature": header }) },
    body: typeof body === "string" ? Buffer.from(body, "utf8") : body,
  };
}

/** A signed delivery of a fresh event of `type`. */
export function delivery(
  watch: LeakWatch,
  type: string,
  options: BuildEventOptions & { secret: string; timestamp?: number },
): Delivery {
  const event = plantedEvent(watch, type, options);
  const payload = JSON.stringify(event, null, 2);
  const header = sign(watch, payload, options.secret, options.timestamp);
  return { event, payload, header, request: jsonRequest(payload, header) };
}

/** The same delivery signed afresh, as Stripe signs each retry. */
export function resigned(watch: LeakWatch, original: Delivery, secret: string, timestamp?: number): Delivery {
  const header = sign(watch, original.payload, secret, timestamp);
  return { ...original, header, request: jsonRequest(original.payload, header) };
}

/**
 * The function URL event Lambda builds for a request, made by the local receiver's own mapping
 * (repeated headers joined with commas, non-UTF-8 or binary bodies base64-encoded), so the direct
 * cases see exactly what the HTTP cases hand the handler.
 */
export function toLambdaEvent(request: RawRequest): LambdaFunctionURLEvent {
  const rawHeaders: string[] = ["host", "abc123.lambda-url.us-east-1.on.aws", "user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"];
  for (const [name, value] of Object.entries(request.headers)) {
    for (const item of Array.isArray(value) ? value : [value]) rawHeaders.push(name, item);
  }
  if (request.body !== undefined && request.body.length > 0) rawHeaders.push("content-length", String(request.body.length));
  return toFunctionUrlEvent({
    method: request.method,
    url: webhookPath,
    httpVersion: "1.1",
    rawHeaders,
    sourceIp: "3.18.12.63",
    body: request.body ?? Buffer.alloc(0),
    requestId: randomUUID(),
  });
}

/** The pipeline's request for a raw request, as the Lambda entry builds it from the function URL event. */
export function toWebhookRequest(request: RawRequest): WebhookRequest {
  return functionUrlRequest(toLambdaEvent(request));
}
