import { invalidParam, noSuch, type StripeObject } from "./answers.ts";
import { pageOf, parseCursor, parseLimit, type CursorParam } from "./lists.ts";
import { parseBoolean, parseInteger, readQuery, type ParsedQuery } from "./query.ts";
import { pathId, type EndpointRequest, type ResourceModule } from "./resource.ts";
import { stripeKeyPermission } from "@stripe-webhooks/core/stripe-permissions";

/*
 * `GET /v1/events` and `GET /v1/events/:id`. The list reads `type` (with `*` wildcards),
 * `types[]`, `created` or `created[gt|gte|lt|lte]`, `delivery_success` and Stripe's list
 * parameters; events older than 30 days by the double's clock are neither listed nor
 * retrieved, as Stripe keeps them 30 days.
 */

const eventRetentionSeconds = 30 * 24 * 60 * 60;
const maxTypes = 20;

export interface AddEventOptions {
  /** Whether every webhook delivery of the event succeeded (`delivery_success`). Default true. */
  delivered?: boolean;
}

export interface EventsResource extends ResourceModule {
  /** Stores an event (an `evt_` id, `created`, `type` and `livemode` are required). */
  add(event: StripeObject, options?: AddEventOptions): void;
  /** Marks an event's webhook deliveries as all succeeded, or not. */
  setDelivered(eventId: string, delivered: boolean): void;
}

interface StoredEvent {
  /** Insertion order, which orders events of the same second. */
  seq: number;
  id: string;
  created: number;
  type: string;
  livemode: boolean;
  delivered: boolean;
  body: StripeObject;
}

/** Stripe's list order: newest first, later insertions first within the same second. */
function newestFirst(a: StoredEvent, b: StoredEvent): number {
  return b.created - a.created || b.seq - a.seq;
}

type CreatedBound = (created: number) => boolean;

function parseCreated(query: ParsedQuery): CreatedBound {
  const exact = query.scalars.get("created");
  if (exact !== undefined) {
    const at = parseInteger("created", exact);
    return (created) => created === at;
  }
  const range = query.hashes.get("created");
  if (range === undefined) return () => true;
  const checks: CreatedBound[] = [];
  for (const [operator, raw] of range) {
    const bound = parseInteger(`created[${operator}]`, raw);
    if (operator === "gt") checks.push((created) => created > bound);
    else if (operator === "gte") checks.push((created) => created >= bound);
    else if (operator === "lt") checks.push((created) => created < bound);
    else if (operator === "lte") checks.push((created) => created <= bound);
    else throw invalidParam(`created[${operator}]`, `Received unknown parameter: created[${operator}]`, "parameter_unknown");
  }
  return (created) => checks.every((check) => check(created));
}

// stripe-node sends `types[0]`, `types[1]`, ...; the query parser reads both that and `types[]`.
function typeMatcher(query: ParsedQuery): (type: string) => boolean {
  const type = query.scalars.get("type");
  const types = query.arrays.get("types");
  if (type !== undefined && types !== undefined) {
    throw invalidParam("types", "You may pass either `type` or `types`, but not both.");
  }
  if (types !== undefined) {
    if (types.length > maxTypes) throw invalidParam("types", `You may pass at most ${maxTypes} event types.`);
    return (candidate) => types.includes(candidate);
  }
  if (type === undefined) return () => true;
  const pattern = new RegExp(`^${type.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return (candidate) => pattern.test(candidate);
}

function requireString(event: StripeObject, field: string): string {
  const value = event[field];
  if (typeof value !== "string") throw new Error(`addEvent: the event has no string "${field}"`);
  return value;
}

export function eventsResource(nowSeconds: () => number): EventsResource {
  const events = new Map<string, StoredEvent>();
  let nextSeq = 0;

  const retained = (event: StoredEvent): boolean => event.created >= nowSeconds() - eventRetentionSeconds;

  // The test controls `delivered`; Stripe shows it as the deliveries still pending.
  const serve = (event: StoredEvent): StripeObject => ({
    ...structuredClone(event.body),
    pending_webhooks: event.delivered ? 0 : 1,
  });

  // A cursor need not match the filters, but it must be an event the key's mode can see.
  const cursorEvent = (id: string, param: CursorParam, live: boolean): StoredEvent => {
    const event = events.get(id);
    if (event === undefined || event.livemode !== live) throw invalidParam(param, `No such event: '${id}'`, "resource_missing");
    return event;
  };

  const list = ({ query: raw, live }: EndpointRequest) => {
    const query = readQuery(raw, [
      "created",
      "delivery_success",
      "ending_before",
      "expand",
      "limit",
      "starting_after",
      "type",
      "types",
    ]);
    const limit = parseLimit(query);
    const matchesType = typeMatcher(query);
    const matchesCreated = parseCreated(query);
    const deliveryRaw = query.scalars.get("delivery_success");
    const delivery = deliveryRaw === undefined ? undefined : parseBoolean("delivery_success", deliveryRaw);
    const cursor = parseCursor(query);
    const from = cursor === undefined ? undefined : { item: cursorEvent(cursor.id, cursor.param, live), param: cursor.param };

    const matching = [...events.values()]
      .filter(
        (event) =>
          event.livemode === live &&
          retained(event) &&
          matchesType(event.type) &&
          matchesCreated(event.created) &&
          (delivery === undefined || event.delivered === delivery),
      )
      .sort(newestFirst);

    const { page, hasMore } = pageOf(matching, limit, from, newestFirst);
    return { status: 200, body: { object: "list", data: page.map(serve), has_more: hasMore, url: "/v1/events" } };
  };

  const retrieve = (request: EndpointRequest) => {
    const id = pathId(request);
    readQuery(request.query, ["expand"]);
    const event = events.get(id);
    if (event === undefined || !retained(event)) throw noSuch("event", id, request.live, false);
    if (event.livemode !== request.live) throw noSuch("event", id, request.live, true);
    return { status: 200, body: serve(event) };
  };

  return {
    resource: "events",
    permission: stripeKeyPermission("rak_event_read").code,
    endpoints: [
      { method: "GET", path: "/v1/events", answer: list },
      { method: "GET", path: "/v1/events/:id", answer: retrieve },
    ],
    add(event, options = {}) {
      const id = requireString(event, "id");
      if (!id.startsWith("evt_")) throw new Error(`addEvent: "${id}" is not an event id (evt_...)`);
      if (events.has(id)) throw new Error(`addEvent: event ${id} already exists`);
      const created = event.created;
      if (typeof created !== "number" || !Number.isInteger(created)) {
        throw new Error(`addEvent: ${id} has no integer "created"`);
      }
      const livemode = event.livemode;
      if (typeof livemode !== "boolean") throw new Error(`addEvent: ${id} has no boolean "livemode"`);
      nextSeq += 1;
      events.set(id, {
        seq: nextSeq,
        id,
        created,
        type: requireString(event, "type"),
        livemode,
        delivered: options.delivered ?? true,
        body: structuredClone(event),
      });
    },
    setDelivered(eventId, delivered) {
      const event = events.get(eventId);
      if (event === undefined) throw new Error(`setDelivered: no event ${eventId}`);
      event.delivered = delivered;
    },
  };
}
