import { eventCatalog } from "@stripe-webhooks/core/catalog";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { buildableTypes, buildEvent, newEventId, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { toFunctionUrlEvent } from "../../packages/scripts/src/receiver/function-url.ts";
import type { LambdaFunctionURLEvent } from "aws-lambda";

/*
 * Deliveries built from Stripe's own example objects (packages/stripe-fixtures) and signed with the
 * `stripe` package, turned into function URL events by the local receiver's own mapping.
 */

type StripeObject = Record<string, unknown>;

/** An event's exact body, as Stripe would send it (compact JSON). */
export interface Payload {
  id: string;
  type: string;
  body: string;
}

function record(value: unknown): StripeObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("fixture is not an object");
  return value as StripeObject;
}

/**
 * About 2 KB: a checkout.session.completed for a plain one-off payment, i.e. the fixture with
 * the sub-objects such a session carries as null (no custom text, no invoice, no consent or
 * shipping collection, no currency conversion).
 */
export function smallPayload(id = newEventId()): Payload {
  const type = "checkout.session.completed";
  const event = buildEvent(type, {
    id,
    object: {
      after_expiration: null,
      automatic_tax: { enabled: false, liability: null, status: null },
      collected_information: null,
      consent: null,
      consent_collection: null,
      currency_conversion: null,
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      invoice_creation: null,
      saved_payment_method_options: null,
      shipping_cost: null,
    },
  });
  return { id, type, body: JSON.stringify(event) };
}

/**
 * The small payload's session in subscription mode, for `subscription`: its handler fetches the
 * subscription from Stripe's API and stages the customer's entitlement.
 */
export function subscriptionCheckoutPayload(subscription: string, id = newEventId()): Payload {
  const event = JSON.parse(smallPayload(id).body) as StripeObject;
  const session = record(record(event.data).object);
  session.mode = "subscription";
  session.subscription = subscription;
  return { id, type: "checkout.session.completed", body: JSON.stringify(event) };
}

/**
 * About `targetBytes` (50 KB by default): an invoice.paid for a large invoice, the fixture's
 * line item repeated with its own id, amount, description and order metadata per line, as an
 * invoice of a few dozen items carries them.
 */
export function largePayload(id = newEventId(), targetBytes = 50_000): Payload {
  const type = "invoice.paid";
  const event = buildEvent(type, { id });
  const invoice = record(record(event.data).object);
  const lines = record(invoice.lines);
  const template = record((lines.data as unknown[])[0]);
  const items: StripeObject[] = [];
  // Bounded: each line adds about a kilobyte.
  for (let i = 0; i < 1000 && JSON.stringify(event).length < targetBytes; i += 1) {
    items.push({
      ...structuredClone(template),
      id: `il_bench${String(i).padStart(6, "0")}`,
      amount: 1000 + i * 25,
      description: `Seat license, team plan (line ${i + 1})`,
      metadata: { order_id: `ord_${1000 + i}`, sku: `SKU-${(i * 7919) % 100000}`, warehouse: "eu-west" },
    });
    lines.data = items;
    lines.total_count = items.length;
  }
  return { id, type, body: JSON.stringify(event) };
}

/** `count` payloads of the catalog's types in turn, ~3–4 KB each. */
export function catalogPayloads(count: number): Payload[] {
  const types = buildableTypes(eventCatalog);
  return Array.from({ length: count }, (_, i) => {
    const type = types[i % types.length] ?? "invoice.paid";
    const id = newEventId();
    return { id, type, body: JSON.stringify(buildEvent(type, { id })) };
  });
}

/** The headers of a delivery of `payload`, signed now (or at `timestamp`) with `secret`. */
export function deliveryHeaders(payload: Payload, secret: string, timestamp?: number): Record<string, string> {
  return {
    "content-type": "application/json; charset=utf-8",
    "stripe-signature": signPayload(payload.body, secret, timestamp),
    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
  };
}

/** The function URL event Lambda would hand the handler for a delivery of `payload`. */
export function functionUrlEvent(payload: Payload, secret: string): LambdaFunctionURLEvent {
  const headers = { host: "bench.lambda-url.us-east-1.on.aws", ...deliveryHeaders(payload, secret) };
  return toFunctionUrlEvent({
    method: "POST",
    url: webhookPath,
    httpVersion: "1.1",
    rawHeaders: Object.entries(headers).flat(),
    sourceIp: "54.187.174.169",
    body: Buffer.from(payload.body, "utf8"),
  });
}
