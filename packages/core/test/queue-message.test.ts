import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import { thrown } from "@stripe-webhooks/testing/thrown";
import { ConfigurationError } from "../src/errors.ts";
import {
  MalformedQueueMessageError,
  decodeQueueMessage,
  defaultMaxInlineBytes,
  encodeQueueMessage,
  eventSubject,
  messageDeduplicationId,
  messageGroupId,
  sqsMaxMessageBytes,
  type MalformedQueueMessageReason,
} from "../src/queue-message.ts";

type Options = Parameters<typeof buildEvent>[1];

function event(type: string, options: Options = {}): Stripe.Event {
  return buildEvent(type, { created: 1_760_000_000, ...options }) as unknown as Stripe.Event;
}

// SQS's own rule for group and deduplication ids: 1 to 128 printable ASCII characters.
const sqsId = /^[\x21-\x7e]{1,128}$/;

function malformed(body: string): MalformedQueueMessageError {
  return thrown(MalformedQueueMessageError, () => decodeQueueMessage(body));
}

describe("messageGroupId", () => {
  it("is the object's customer when the object names one by id", () => {
    const updated = event("customer.subscription.updated", { object: { customer: "cus_A" } });
    const paid = event("invoice.paid", { object: { customer: "cus_A" } });

    expect(messageGroupId(updated)).toBe("cus_A");
    expect(messageGroupId(paid)).toBe("cus_A");
  });

  it("is the expanded customer's id when the object holds the customer itself", () => {
    const paid = event("invoice.paid", { object: { customer: { id: "cus_B", object: "customer" } } });

    expect(messageGroupId(paid)).toBe("cus_B");
  });

  it("is the customer itself for a customer event, so its changes share the group of its invoices", () => {
    const updated = event("customer.updated", { object: { id: "cus_C" } });
    const deleted = event("customer.deleted", { object: { id: "cus_C", deleted: true } });
    const invoice = event("invoice.paid", { object: { customer: "cus_C" } });

    expect(messageGroupId(updated)).toBe("cus_C");
    expect(messageGroupId(deleted)).toBe("cus_C");
    expect(messageGroupId(invoice)).toBe(messageGroupId(updated));
  });

  it("is the object's id when the object has no customer", () => {
    const guestCheckout = event("checkout.session.completed", { object: { id: "cs_guest", customer: null } });
    const product = event("product.updated", { object: { id: "prod_D" } });

    expect(messageGroupId(guestCheckout)).toBe("cs_guest");
    expect(messageGroupId(product)).toBe("prod_D");
  });

  it("is prefixed with the connected account for a Connect event", () => {
    const connect = event("invoice.paid", { account: "acct_123", object: { customer: "cus_456" } });
    const platform = event("invoice.paid", { object: { customer: "cus_456" } });

    expect(messageGroupId(connect)).toBe("acct_123/cus_456");
    expect(messageGroupId(platform)).toBe("cus_456");
  });

  it("falls back to the event id when the object has neither a customer nor an id", () => {
    const anonymous = event("invoice.paid", { id: "evt_anonymous", object: { id: undefined, customer: undefined } });

    expect(eventSubject(anonymous)).toBeUndefined();
    expect(messageGroupId(anonymous)).toBe("evt_anonymous");
  });

  it("hashes a subject SQS would refuse, the same subject always to the same group", () => {
    const long = `cus_${"x".repeat(200)}`;
    const first = event("invoice.paid", { account: "acct_1", object: { customer: long } });
    const again = event("invoice.paid", { account: "acct_1", object: { customer: long } });
    const otherAccount = event("invoice.paid", { account: "acct_2", object: { customer: long } });
    const unicode = event("invoice.paid", { object: { customer: "cus_é" } });

    expect(messageGroupId(first)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(messageGroupId(again)).toBe(messageGroupId(first));
    expect(messageGroupId(otherAccount)).not.toBe(messageGroupId(first));
    for (const each of [first, otherAccount, unicode]) expect(messageGroupId(each)).toMatch(sqsId);
  });
});

describe("messageDeduplicationId", () => {
  it("is the event id", () => {
    const paid = event("invoice.paid", { id: "evt_1Dedup" });

    expect(messageDeduplicationId(paid)).toBe("evt_1Dedup");
    expect(encodeQueueMessage(paid).input.MessageDeduplicationId).toBe("evt_1Dedup");
  });

  it("is a hash, within SQS's rules, for an id longer than SQS accepts", () => {
    const long = event("invoice.paid", { id: `evt_${"a".repeat(200)}` });

    expect(messageDeduplicationId(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(messageDeduplicationId(long)).toMatch(sqsId);
  });
});

describe("encodeQueueMessage", () => {
  it("carries a Stripe-sized event inline, and decoding gives back the same event", () => {
    const paid = event("invoice.paid", { account: "acct_9", object: { customer: "cus_E" } });

    const message = encodeQueueMessage(paid);

    expect(message.kind).toBe("event");
    expect(message.input.MessageGroupId).toBe("acct_9/cus_E");
    expect(message.bodyBytes).toBe(Buffer.byteLength(message.input.MessageBody, "utf8"));
    expect(decodeQueueMessage(message.input.MessageBody)).toEqual({ kind: "event", event: paid });
  });

  it("carries only a reference, with the ids unchanged, when the event is over the limit", () => {
    const big = event("invoice.paid", {
      id: "evt_1Big",
      account: "acct_9",
      object: { customer: "cus_F", metadata: { notes: "n".repeat(defaultMaxInlineBytes) } },
    });

    const message = encodeQueueMessage(big);

    expect(message.kind).toBe("reference");
    expect(message.bodyBytes).toBeLessThan(1024);
    expect(message.input.MessageBody).not.toContain("nnnn");
    expect(message.input).toMatchObject({ MessageGroupId: "acct_9/cus_F", MessageDeduplicationId: "evt_1Big" });
    expect(decodeQueueMessage(message.input.MessageBody)).toEqual({
      kind: "reference",
      reference: {
        id: "evt_1Big",
        type: "invoice.paid",
        created: 1_760_000_000,
        livemode: false,
        account: "acct_9",
        api_version: big.api_version,
      },
    });
  });

  it("keeps a body of exactly the limit inline and sends a reference one byte under it", () => {
    const paid = event("invoice.paid");
    const size = encodeQueueMessage(paid).bodyBytes;

    expect(encodeQueueMessage(paid, { maxInlineBytes: size }).kind).toBe("event");
    expect(encodeQueueMessage(paid, { maxInlineBytes: size - 1 }).kind).toBe("reference");
  });

  it("measures the body in UTF-8 bytes, as SQS does, not in characters", () => {
    const euros = "€".repeat(2000);
    const paid = event("invoice.paid", { object: { description: euros } });
    const characters = encodeQueueMessage(paid).input.MessageBody.length;

    const message = encodeQueueMessage(paid, { maxInlineBytes: characters + 10 });

    expect(message.kind).toBe("reference");
  });

  it("escapes the characters SQS refuses in a body, and decoding restores them", () => {
    const text = "name\uffffwith\ufffenoncharacters";
    const paid = event("invoice.paid", { object: { description: text } });

    const message = encodeQueueMessage(paid);

    expect(message.input.MessageBody).not.toMatch(/[\ufffe\uffff]/);
    const decoded = decodeQueueMessage(message.input.MessageBody);
    expect(decoded.kind === "event" && (decoded.event.data.object as { description?: string }).description).toBe(text);
  });

  it("refuses an inline limit SQS or a reference could not honour", () => {
    const paid = event("invoice.paid");

    for (const maxInlineBytes of [0, 1023, sqsMaxMessageBytes + 1, 2048.5, Number.NaN]) {
      expect(() => encodeQueueMessage(paid, { maxInlineBytes })).toThrow(ConfigurationError);
    }
    expect(encodeQueueMessage(paid, { maxInlineBytes: sqsMaxMessageBytes }).kind).toBe("event");
  });
});

describe("decodeQueueMessage", () => {
  const valid = JSON.parse(encodeQueueMessage(event("invoice.paid")).input.MessageBody) as Record<string, unknown>;
  const validEvent = valid.event as Record<string, unknown>;
  const reference = { id: "evt_1Ref", type: "invoice.paid", created: 1_760_000_000, livemode: true };

  const cases: Array<[string, string, MalformedQueueMessageReason]> = [
    ["not JSON", "{not json", "not-json"],
    ["an array", "[1]", "not-an-envelope"],
    ["an object without a version", JSON.stringify({ event: validEvent }), "not-an-envelope"],
    ["a newer format version", JSON.stringify({ ...valid, v: 2 }), "unknown-version"],
    ["neither kind", JSON.stringify({ ...valid, kind: "other" }), "not-an-envelope"],
    ["an event without an id", JSON.stringify({ ...valid, event: { ...validEvent, id: undefined } }), "invalid-event"],
    ["an event whose id is a path", JSON.stringify({ ...valid, event: { ...validEvent, id: "evt_1/../x" } }), "invalid-event"],
    ["an event with a text created", JSON.stringify({ ...valid, event: { ...validEvent, created: "1760000000" } }), "invalid-event"],
    ["an event without livemode", JSON.stringify({ ...valid, event: { ...validEvent, livemode: undefined } }), "invalid-event"],
    ["an event that is not an event", JSON.stringify({ ...valid, event: { ...validEvent, object: "invoice" } }), "invalid-event"],
    ["an event without a data object", JSON.stringify({ ...valid, event: { ...validEvent, data: {} } }), "invalid-event"],
    ["an event with a bad account", JSON.stringify({ ...valid, event: { ...validEvent, account: "acct_1/x" } }), "invalid-event"],
    ["a reference without a type", JSON.stringify({ v: 1, kind: "reference", reference: { ...reference, type: "" } }), "invalid-reference"],
    ["a reference with a bad id", JSON.stringify({ v: 1, kind: "reference", reference: { ...reference, id: "cus_1" } }), "invalid-reference"],
    ["a reference with a bad account", JSON.stringify({ v: 1, kind: "reference", reference: { ...reference, account: "acct_?" } }), "invalid-reference"],
    ["a reference with a numeric api_version", JSON.stringify({ v: 1, kind: "reference", reference: { ...reference, api_version: 3 } }), "invalid-reference"],
  ];

  it.each(cases)("refuses %s", (_name, body, reason) => {
    expect(malformed(body).reason).toBe(reason);
  });

  it("reads a reference without an account or api_version", () => {
    const body = JSON.stringify({ v: 1, kind: "reference", reference });

    expect(decodeQueueMessage(body)).toEqual({ kind: "reference", reference });
  });

  it("never quotes the body in its error", () => {
    const secret = "sk_live_secretvalue";
    const bodies = [
      `{"${secret}"`,
      JSON.stringify({ v: secret, kind: "event" }),
      JSON.stringify({ ...valid, event: { ...validEvent, id: secret } }),
      JSON.stringify({ v: 1, kind: "reference", reference: { ...reference, account: secret } }),
    ];

    for (const body of bodies) {
      const error = malformed(body);
      expect(error.message).not.toContain("secretvalue");
      expect(error.cause).toBeUndefined();
    }
  });
});
