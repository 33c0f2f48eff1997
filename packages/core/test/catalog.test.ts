import { randomBytes } from "node:crypto";
import type Stripe from "stripe";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { eventCatalog, isCatalogEventType } from "../src/catalog.ts";
import { dispatch, isCatalogEvent, type HandlerContext, type HandlerRegistry } from "../src/dispatch.ts";
import { createEffectStager } from "../src/effects.ts";
import { entitlementKeyPrefix } from "../src/entitlements.ts";
import { ConfigurationError, StripeMisconfiguredError } from "../src/errors.ts";
import { entitlementHandlers } from "../src/handlers.ts";
import type { WebhookLogger } from "../src/logger.ts";
import { idempotencyKey } from "../src/process-event.ts";
import { createStripeClient } from "../src/stripe-api.ts";
import { asStripeEvent } from "../src/verify.ts";
import { buildableTypes, buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import { recordingLogger } from "@stripe-webhooks/testing/recording-logger";
import { startStripeApiDouble, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";

// The example handlers (the entitlements projection) fetch subscriptions from Stripe's API: here
// the real `stripe` SDK against the test kit's double, since Stripe cannot be reached.

const apiKey = `sk_test_${randomBytes(16).toString("hex")}`;
const table = "catalog-test";
// Stripe's example subscription (packages/stripe-fixtures), which the subscription events carry.
const fixtureSubscription = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw";
const fixtureCustomer = "cus_QXg1o8vcGmoR32";
let double: StripeApiDouble;

beforeAll(async () => {
  double = await startStripeApiDouble({ apiKeys: [apiKey] });
  double.setCustomer({ id: fixtureCustomer, email: "jenny.rosen@example.com", name: "Jenny Rosen" });
  double.setSubscription({ id: fixtureSubscription, customer: fixtureCustomer, status: "active" });
});

afterAll(async () => {
  await double.close();
});

// What processEvent gives a handler: a Stripe client (the double's, unless `stripe` says there is
// none) and a stager over a table, whose staged writes the test reads back.
function handlerContext(logger: WebhookLogger, stripe: Stripe | "none" = createStripeClient({ apiKey, apiBase: double.url })) {
  const staged = createEffectStager(table);
  const context: HandlerContext = {
    logger,
    attempt: 1,
    get stripe(): Stripe {
      if (stripe === "none") throw new ConfigurationError("Handlers have no Stripe API key");
      return stripe;
    },
    stripeConfigured: stripe !== "none",
    idempotencyKey: (purpose) => idempotencyKey("evt_test", purpose),
    effects: staged.stager,
  };
  return { context, staged: () => staged.items() };
}

// The subscription states a run staged, by customer item.
function stagedStates(items: ReturnType<ReturnType<typeof handlerContext>["staged"]>) {
  return items.map((item) => {
    const update = item.Update;
    if (!update?.Key || !update.ExpressionAttributeValues) throw new Error("expected a staged update");
    const values = unmarshall(update.ExpressionAttributeValues as Record<string, AttributeValue>);
    return { pk: unmarshall(update.Key).pk as unknown, state: values[":state"] as unknown };
  });
}

function catalogEvent(event: Record<string, unknown>) {
  const parsed = asStripeEvent(JSON.parse(JSON.stringify(event)));
  if (!isCatalogEvent(parsed)) throw new Error(`${parsed.type} is not a catalog event`);
  return parsed;
}

describe("the catalog", () => {
  it("holds no duplicates", () => {
    expect(new Set(eventCatalog).size).toBe(eventCatalog.length);
  });

  it("is exactly the registry's keys", () => {
    expect(Object.keys(entitlementHandlers).sort()).toEqual([...eventCatalog].sort());
  });

  it("recognises its own types and nothing else", () => {
    expect(eventCatalog.every(isCatalogEventType)).toBe(true);
    expect(isCatalogEventType("customer.created")).toBe(false);
    expect(isCatalogEventType("invoice.paid.extra")).toBe(false);
  });

  it("types each handler with the stripe package's event for its key (checked by tsc)", () => {
    expectTypeOf<Parameters<HandlerRegistry["invoice.paid"]>[0]>().toEqualTypeOf<Stripe.InvoicePaidEvent>();
    expectTypeOf<Parameters<HandlerRegistry["checkout.session.completed"]>[0]>().toEqualTypeOf<Stripe.CheckoutSessionCompletedEvent>();
    expectTypeOf<Parameters<HandlerRegistry["customer.subscription.paused"]>[0]>().toEqualTypeOf<Stripe.CustomerSubscriptionPausedEvent>();

    // A registry with a type outside the catalog, or without one of its types, does not compile.
    const noop = async () => ({ outcome: "" });
    // @ts-expect-error "customer.created" is not in the catalog
    const extra: HandlerRegistry = { ...entitlementHandlers, "customer.created": noop };
    const { "invoice.paid": _omitted, ...rest } = entitlementHandlers;
    // @ts-expect-error "invoice.paid" has no handler
    const incomplete: HandlerRegistry = rest;
    expect([extra, incomplete]).toHaveLength(2);
  });

  it("can be built from Stripe's fixtures for every type", () => {
    expect(buildableTypes(eventCatalog)).toEqual([...eventCatalog]);
  });
});

describe("the example handlers (entitlements)", () => {
  it.each(eventCatalog)("%s (Stripe's fixture) logs ids only and reports an outcome", async (type) => {
    // Prepare
    const event = catalogEvent(buildEvent(type));
    const { logger, lines } = recordingLogger();
    const { context } = handlerContext(logger);

    // Act
    const result = await dispatch(entitlementHandlers, event, context);

    // Assess
    expect(result.outcome.length).toBeGreaterThan(0);
    expect(lines).toHaveLength(1);
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain("example@example.com");
    expect(logged).not.toContain("jenny");
    expect(logged.toLowerCase()).not.toContain("rosen");
  });

  it.each(eventCatalog.filter((type) => type.startsWith("customer.subscription.")))(
    "%s stages the subscription's state as the API returns it, whatever the payload says",
    async (type) => {
      // Prepare: the payload is stale (and partial); the API knows better.
      double.setSubscription({ id: fixtureSubscription, status: "past_due", cancel_at_period_end: false });
      const event = catalogEvent(buildEvent(type, { object: { status: "active", cancel_at_period_end: true, items: undefined } }));
      const { logger } = recordingLogger();
      const { context, staged } = handlerContext(logger);

      // Act
      const result = await dispatch(entitlementHandlers, event, context);

      // Assess
      expect(result.outcome).toBe(`entitlement ${fixtureCustomer}: ${fixtureSubscription} past_due`);
      expect(stagedStates(staged())).toEqual([
        {
          pk: `${entitlementKeyPrefix}${fixtureCustomer}`,
          state: {
            id: fixtureSubscription,
            status: "past_due",
            priceId: "price_1PgafmB7WZ01zgkW6dKueIc5",
            currentPeriodEnd: 976287773,
            cancelAtPeriodEnd: false,
            fetchedAt: expect.any(Number),
          },
        },
      ]);
      double.setSubscription({ id: fixtureSubscription, status: "active", cancel_at_period_end: true });
    },
  );

  it("projects a deleted subscription as the API still returns it: canceled", async () => {
    double.setSubscription({ id: "sub_gone", customer: "cus_gone", status: "canceled" });
    const event = catalogEvent(buildEvent("customer.subscription.deleted", { object: { id: "sub_gone" } }));
    const { logger, lines } = recordingLogger();
    const { context, staged } = handlerContext(logger);

    const result = await dispatch(entitlementHandlers, event, context);

    expect(result.outcome).toBe("entitlement cus_gone: sub_gone canceled");
    expect(stagedStates(staged())).toEqual([
      { pk: `${entitlementKeyPrefix}cus_gone`, state: expect.objectContaining({ id: "sub_gone", status: "canceled" }) },
    ]);
    expect(lines[0]).toMatchObject({ level: "info", attributes: { customer: "cus_gone", subscriptionId: "sub_gone", status: "canceled" } });
  });

  it("follows a subscription-mode checkout session and a subscription invoice (and the pre-2025 invoice.subscription) to the subscription", async () => {
    double.setSubscription({ id: "sub_ref", customer: "cus_ref", status: "trialing" });
    const events = [
      buildEvent("checkout.session.completed", { object: { mode: "subscription", subscription: "sub_ref", customer: "cus_ref" } }),
      buildEvent("invoice.paid", {
        object: { parent: { type: "subscription_details", quote_details: null, subscription_details: { metadata: null, subscription: "sub_ref" } } },
      }),
      buildEvent("invoice.payment_failed", { object: { parent: null, subscription: "sub_ref" } }),
      buildEvent("invoice.payment_action_required", { object: { parent: null, subscription: { id: "sub_ref", object: "subscription" } } }),
    ];

    for (const raw of events) {
      const { logger } = recordingLogger();
      const { context, staged } = handlerContext(logger);
      const result = await dispatch(entitlementHandlers, catalogEvent(raw), context);
      expect(result.outcome, String(raw.type)).toBe("entitlement cus_ref: sub_ref trialing");
      expect(stagedStates(staged())).toHaveLength(1);
    }
  });

  it("changes nothing and calls no one for a one-off payment: no subscription on the session or the invoice", async () => {
    const before = double.requestCount();
    const events = [
      buildEvent("checkout.session.completed", { object: { mode: "payment", subscription: null } }),
      buildEvent("invoice.paid", { object: { parent: null, subscription: null } }),
    ];

    for (const raw of events) {
      const { logger } = recordingLogger();
      const { context, staged } = handlerContext(logger, "none");
      const result = await dispatch(entitlementHandlers, catalogEvent(raw), context);
      expect(result.outcome).toMatch(/^no subscription on /);
      expect(staged()).toEqual([]);
    }
    expect(double.requestCount()).toBe(before);
  });

  it("reports a subscription Stripe does not know (another account or mode) and stages nothing", async () => {
    const event = catalogEvent(buildEvent("customer.subscription.updated", { object: { id: "sub_unknown" } }));
    const { logger, lines } = recordingLogger();
    const { context, staged } = handlerContext(logger);

    const result = await dispatch(entitlementHandlers, event, context);

    expect(result.outcome).toBe("subscription sub_unknown not found: nothing to project");
    expect(staged()).toEqual([]);
    expect(lines).toEqual([expect.objectContaining({ level: "warn", attributes: { subscriptionId: "sub_unknown" } })]);
  });

  it("throws, staging nothing, when Stripe refuses the key: the event is retried once it is fixed", async () => {
    const event = catalogEvent(buildEvent("customer.subscription.created"));
    const wrongKey = handlerContext(
      recordingLogger().logger,
      createStripeClient({ apiKey: `sk_test_${randomBytes(16).toString("hex")}`, apiBase: double.url }),
    );

    await expect(dispatch(entitlementHandlers, event, wrongKey.context)).rejects.toBeInstanceOf(StripeMisconfiguredError);
    expect(wrongKey.staged()).toEqual([]);
  });

  it("without any Stripe key (only locally: a deployed stage always has one), skips the sync, says why, and calls no one", async () => {
    const before = double.requestCount();
    const event = catalogEvent(buildEvent("customer.subscription.created", { object: { id: "sub_local" } }));
    const { logger, lines } = recordingLogger();
    const noKey = handlerContext(logger, "none");

    const result = await dispatch(entitlementHandlers, event, noKey.context);

    expect(result.outcome).toBe("entitlement not synced for sub_local: no Stripe API key");
    expect(noKey.staged()).toEqual([]);
    expect(lines).toEqual([expect.objectContaining({ level: "warn", message: expect.stringContaining("STRIPE_API_KEY") })]);
    expect(double.requestCount()).toBe(before);
  });
});
