import { invalidParam, randomId, unknownParameter, type StripeObject } from "./answers.ts";
import { fixtureObject, type Fixtures } from "./fixtures.ts";
import { objectResource, type ObjectResource } from "./objects.ts";
import { parseInteger } from "./query.ts";
import type { Endpoint, EndpointRequest } from "./resource.ts";

/*
 * The one write, for handlers that create something: `POST /v1/refunds` (`payment_intent` or
 * `charge`, optional `amount`, `reason`, `metadata[...]`), and `GET /v1/refunds/:id` to read one
 * back. Refunds are only served to handlers that create them, which needs write access.
 */

export interface RefundsResource extends ObjectResource {
  /** The refunds created through `POST /v1/refunds`, oldest first (copies). */
  created(): StripeObject[];
}

export function refundsResource(fixtures: Fixtures, nowSeconds: () => number): RefundsResource {
  const objects = objectResource(
    { resource: "refunds", permission: "rak_refund_write", fixture: "refund", noun: "refund" },
    fixtures,
  );
  const createdIds: string[] = [];

  const create = ({ form, live }: EndpointRequest) => {
    const known = ["payment_intent", "charge", "amount", "reason"];
    for (const name of form.keys()) {
      if (!known.includes(name) && !/^metadata\[[^\]]+\]$/.test(name)) throw unknownParameter(name);
    }
    const paymentIntent = form.get("payment_intent");
    const charge = form.get("charge");
    if (paymentIntent === null && charge === null) {
      const message = "One of the following params should be provided for this request: payment_intent or charge.";
      throw invalidParam("payment_intent", message, "parameter_missing");
    }
    const amountText = form.get("amount");
    const base = fixtureObject(fixtures, "refund");
    const metadata = Object.fromEntries(
      [...form].filter(([name]) => name.startsWith("metadata[")).map(([name, value]) => [name.slice(9, -1), value]),
    );
    const refund: StripeObject = {
      ...base,
      id: randomId("re"),
      amount: amountText === null ? base.amount : parseInteger("amount", amountText),
      charge,
      payment_intent: paymentIntent,
      reason: form.get("reason"),
      metadata,
      created: nowSeconds(),
      livemode: live,
      status: "succeeded",
    };
    objects.store.set(String(refund.id), refund);
    createdIds.push(String(refund.id));
    return { status: 200, body: structuredClone(refund) };
  };
  const createEndpoint: Endpoint = { method: "POST", path: "/v1/refunds", answer: create };

  return {
    ...objects,
    endpoints: [createEndpoint, objects.retrieve],
    created: () =>
      createdIds.flatMap((id) => {
        const refund = objects.store.get(id);
        return refund === undefined ? [] : [structuredClone(refund)];
      }),
  };
}
