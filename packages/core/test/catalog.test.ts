import type Stripe from "stripe";
import { describe, expect, expectTypeOf, it } from "vitest";
import { eventCatalog, isCatalogEventType } from "../src/catalog.ts";
import { dispatch, isCatalogEvent, type HandlerRegistry } from "../src/dispatch.ts";
import type { WebhookLogger } from "../src/logger.ts";
import { createEffectStager } from "../src/effects.ts";
import { idempotencyKey } from "../src/process-event.ts";
import type { HandlerContext } from "../src/dispatch.ts";

// What processEvent gives a handler, minus a Stripe client: these handlers must not need one.
function handlerContext(logger: WebhookLogger): HandlerContext {
  return {
    logger,
    attempt: 1,
    get stripe(): never {
      throw new Error("this handler called Stripe");
    },
    idempotencyKey: (purpose) => idempotencyKey("evt_test", purpose),
    effects: createEffectStager(undefined).stager,
  };
}
import { exampleHandlers } from "../src/handlers.ts";
import { asStripeEvent } from "../src/verify.ts";
import { buildableTypes, buildEvent } from "@stripe-webhooks/scripts/stripe-events";

function recordingLogger() {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const record = (level: string) => (message: string, ...attributes: Record<string, unknown>[]) => {
    lines.push({ level, message, attributes: Object.assign({}, ...attributes) });
  };
  const logger: WebhookLogger = { info: record("info"), warn: record("warn"), error: record("error") };
  return { logger, lines };
}

describe("the catalog", () => {
  it("holds no duplicates", () => {
    expect(new Set(eventCatalog).size).toBe(eventCatalog.length);
  });

  it("is exactly the registry's keys", () => {
    expect(Object.keys(exampleHandlers).sort()).toEqual([...eventCatalog].sort());
  });

  it("recognises its own types and nothing else", () => {
    expect(eventCatalog.every(isCatalogEventType)).toBe(true);
    expect(isCatalogEventType("customer.created")).toBe(false);
    expect(isCatalogEventType("invoice.paid.extra")).toBe(false);
  });

  it("types each handler with the stripe package's event for its key (checked by tsc)", () => {
    expectTypeOf<Parameters<HandlerRegistry["invoice.paid"]>[0]>().toEqualTypeOf<Stripe.InvoicePaidEvent>();
    expectTypeOf<Parameters<HandlerRegistry["checkout.session.completed"]>[0]>().toEqualTypeOf<Stripe.CheckoutSessionCompletedEvent>();

    // A registry with a type outside the catalog, or without one of its types, does not compile.
    const noop = async () => ({ outcome: "" });
    // @ts-expect-error "customer.created" is not in the catalog
    const extra: HandlerRegistry = { ...exampleHandlers, "customer.created": noop };
    const { "invoice.paid": _omitted, ...rest } = exampleHandlers;
    // @ts-expect-error "invoice.paid" has no handler
    const incomplete: HandlerRegistry = rest;
    expect([extra, incomplete]).toHaveLength(2);
  });

  it("can be built from Stripe's fixtures for every type", () => {
    expect(buildableTypes(eventCatalog)).toEqual([...eventCatalog]);
  });
});

describe("the example handlers", () => {
  it.each(eventCatalog)("%s logs ids and reports an outcome", async (type) => {
    // Prepare
    const event = asStripeEvent(JSON.parse(JSON.stringify(buildEvent(type))));
    const { logger, lines } = recordingLogger();
    if (!isCatalogEvent(event)) throw new Error(`${type} is not a catalog event`);

    // Act
    const result = await dispatch(exampleHandlers, event, handlerContext(logger));

    // Assess
    expect(result.outcome.length).toBeGreaterThan(0);
    expect(lines).toHaveLength(1);
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain("example@example.com");
  });

  it("dispatches each event to the handler of its own type", async () => {
    const event = asStripeEvent(buildEvent("customer.subscription.deleted", { object: { id: "sub_gone" } }));
    const { logger, lines } = recordingLogger();
    if (!isCatalogEvent(event)) throw new Error("not a catalog event");

    const result = await dispatch(exampleHandlers, event, handlerContext(logger));

    expect(result.outcome).toBe("revoke sub_gone");
    expect(lines[0]?.message).toContain("Subscription deleted");
  });

  it("logs which subscription fields changed, not their values", async () => {
    const base = buildEvent("customer.subscription.updated");
    const data = { ...(base.data as Record<string, unknown>), previous_attributes: { metadata: { plan: "s3cret-plan" } } };
    const event = asStripeEvent({ ...base, data });
    const { logger, lines } = recordingLogger();
    if (!isCatalogEvent(event)) throw new Error("not a catalog event");

    await dispatch(exampleHandlers, event, handlerContext(logger));

    expect(lines[0]?.attributes.changed).toEqual(["metadata"]);
    expect(JSON.stringify(lines)).not.toContain("s3cret-plan");
  });
});
