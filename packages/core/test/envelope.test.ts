import { describe, expect, it } from "vitest";
import { asStripeEvent, describeValue, maxEventIdLength, maxEventTypeLength } from "../src/envelope.ts";
import { MalformedEventError, type MalformedEventReason } from "../src/errors.ts";
import { buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import { thrown } from "@stripe-webhooks/testing/thrown";

function event(change: (event: Record<string, unknown>) => void = () => undefined): Record<string, unknown> {
  const built: Record<string, unknown> = buildEvent("invoice.paid");
  change(built);
  return built;
}

function refusal(value: unknown): MalformedEventError {
  return thrown(MalformedEventError, () => asStripeEvent(value));
}

describe("asStripeEvent", () => {
  it("accepts Stripe's envelope: a platform event, a Connect event, a null api_version, unknown extra fields", () => {
    const platform = event();
    const connect = event((e) => (e.account = "acct_1Nv0FGQ9RKHgCVdK"));
    const unversioned = event((e) => (e.api_version = null));
    const extra = event((e) => (e.x_future_field = { nested: true }));

    for (const accepted of [platform, connect, unversioned, extra]) expect(asStripeEvent(accepted)).toBe(accepted);
  });

  it("accepts ids and types at their limits", () => {
    const longest = event((e) => {
      e.id = `evt_${"a".repeat(maxEventIdLength - 4)}`;
      e.type = `a.${"b".repeat(maxEventTypeLength - 2)}`;
    });

    expect(asStripeEvent(longest).id).toHaveLength(maxEventIdLength);
  });

  it.each<[string, (event: Record<string, unknown>) => void, MalformedEventReason]>([
    ["the reconciler's state key as id", (e) => (e.id = "reconciler#local"), "invalid-id"],
    ["an effects key as id", (e) => (e.id = "app#entitlement#cus_x"), "invalid-id"],
    ["an id without evt_", (e) => (e.id = "not-an-event-id"), "invalid-id"],
    ["evt_ alone", (e) => (e.id = "evt_"), "invalid-id"],
    ["an id with a hyphen", (e) => (e.id = "evt_abc-def"), "invalid-id"],
    ["an id with a control character", (e) => (e.id = "evt_abc\u0000"), "invalid-id"],
    ["an id one character too long", (e) => (e.id = `evt_${"a".repeat(maxEventIdLength - 3)}`), "invalid-id"],
    ["an id of 3,000 characters", (e) => (e.id = `evt_${"a".repeat(2996)}`), "invalid-id"],
    ["a numeric id", (e) => (e.id = 42), "invalid-id"],
    ["a type one character too long", (e) => (e.type = `a.${"b".repeat(maxEventTypeLength - 1)}`), "invalid-type"],
    ["a type of 100,000 characters", (e) => (e.type = "a".repeat(100_000)), "invalid-type"],
    ["an upper-case type", (e) => (e.type = "Invoice.Paid"), "invalid-type"],
    ["a type with an empty segment", (e) => (e.type = "invoice..paid"), "invalid-type"],
    ["a type with a right-to-left override", (e) => (e.type = "invoice.\u202epaid"), "invalid-type"],
    ["an empty type", (e) => (e.type = ""), "invalid-type"],
    ["created 1e20", (e) => (e.created = 1e20), "invalid-created"],
    ["created in milliseconds", (e) => (e.created = Date.now()), "invalid-created"],
    ["a fractional created", (e) => (e.created = 1_760_000_000.5), "invalid-created"],
    ["a negative created", (e) => (e.created = -1), "invalid-created"],
    ["created as a string", (e) => (e.created = "1760000000"), "invalid-created"],
    ["a livemode string", (e) => (e.livemode = "false"), "invalid-livemode"],
    ["no api_version key", (e) => delete e.api_version, "invalid-api-version"],
    ["a numeric api_version", (e) => (e.api_version = 2026), "invalid-api-version"],
    ["an api_version of 10,000 characters", (e) => (e.api_version = "2".repeat(10_000)), "invalid-api-version"],
    ["a null account", (e) => (e.account = null), "invalid-account"],
    ["an account that is not acct_", (e) => (e.account = "cus_123"), "invalid-account"],
    ["no data", (e) => delete e.data, "invalid-data-object"],
    ["a data.object array", (e) => (e.data = { object: [1] }), "invalid-data-object"],
  ])("refuses %s", (_, change, reason) => {
    expect(refusal(event(change)).reason).toBe(reason);
  });

  it.each([["null", null], ["an array", []], ["a string", "evt_1"]])("refuses %s as not an object", (_, value) => {
    expect(refusal(value).reason).toBe("not-an-object");
  });

  it("describes the offending value cut short and escaped, and never the event's object", () => {
    const long = refusal(event((e) => (e.id = `evt_${"x".repeat(2996)}`)));
    const hidden = refusal(event((e) => (e.type = "invoice.\u202epaid\n")));
    const object = refusal(event((e) => (e.data = { object: ["secret customer note"] })));

    expect(long.value).toBe(`"evt_${"x".repeat(36)}"… (3000 characters)`);
    expect(hidden.value).toBe('"invoice.\\u202epaid\\u000a"');
    expect(object.value).toBe("an array");
    expect(long.message).not.toContain("xxxx");
  });
});

describe("describeValue", () => {
  it("shows numbers and booleans as written, and missing values as such", () => {
    expect(describeValue(1e20)).toBe("100000000000000000000");
    expect(describeValue(false)).toBe("false");
    expect(describeValue(undefined)).toBe("(missing)");
    expect(describeValue({ a: 1 })).toBe("an object");
  });
});
