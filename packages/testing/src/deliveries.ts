import { randomBytes } from "node:crypto";
import type { WebhookRequest } from "@stripe-webhooks/core/request";
import { signPayload } from "@stripe-webhooks/stripe-fixtures/events";

/**
 * A delivery of `event` as Stripe makes it, for core's `handleWebhook`: the same bytes on every
 * call (pretty-printed JSON, as Stripe sends it), a fresh signature with `secret` each time, as
 * each retry is signed anew, and a request id of its own.
 */
export function signedDelivery(event: Record<string, unknown>, secret: string): WebhookRequest {
  const payload = JSON.stringify(event, null, 2);
  return {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": signPayload(payload, secret) },
    body: payload,
    isBase64Encoded: false,
    requestId: `req-${randomBytes(4).toString("hex")}`,
  };
}
