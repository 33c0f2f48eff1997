import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { eventCatalog } from "@stripe-webhooks/core/catalog";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Delivery } from "./support/deliveries.ts";
import { bindToSandboxes, Harness, type Outcome } from "./support/harness.ts";
import { expectNoLeaks } from "./support/leaks.ts";
import { ledgerReader } from "@stripe-webhooks/testing/ledger-reader";
import { randomInt, seededRandom, shuffle } from "@stripe-webhooks/testing/random";
import { runPool, sleep } from "./support/random.ts";
import { inProcessSuite } from "./support/suite.ts";

/*
 * Concurrency on both engines: many Lambda invocations delivering the same events at once, as
 * Stripe's retries and duplicate deliveries make them. Side effects are counted (a handler run
 * that returned), not just ledger rows.
 */

const { watch, secret, book } = inProcessSuite("concurrency");

describeEachEngine("concurrent deliveries", (engine) => {
  // Lambda runs each invocation in its own sandbox with its own client; a few suffice here.
  let clients: DynamoDBClient[] = [];
  let next = 0;
  const client = () => clients[next++ % clients.length] as DynamoDBClient;

  beforeAll(() => {
    clients = Array.from({ length: 4 }, () => bindToSandboxes(engine().client()));
    book.ranOn(engine().name);
  });

  afterAll(() => {
    for (const each of clients) each.destroy();
  });

  it("16 concurrent deliveries of one event run its handler exactly once; the others answer 200 or 409", async () => {
    const table = await engine().createLedgerTable();
    // A handler that takes a moment, so deliveries arrive while it holds the lease.
    const harness = new Harness({ watch, secret, table, client, handlerBody: () => sleep(40) });
    const rounds = 10;
    const statuses = new Map<string, number>();
    for (let round = 0; round < rounds; round += 1) {
      const event = harness.delivery(eventCatalog[round % eventCatalog.length]);
      const answers = await Promise.all(Array.from({ length: 16 }, () => harness.invoke(event)));
      for (const answer of answers) statuses.set(`${answer.status} ${answer.code}`, (statuses.get(`${answer.status} ${answer.code}`) ?? 0) + 1);
      expect(harness.effects.count(event.event.id)).toBe(1);
      expect(answers.filter((answer) => answer.code === "processed")).toHaveLength(1);
      expect(answers.every((answer) => answer.status === 200 || answer.status === 409)).toBe(true);
    }
    const entries = await ledgerReader(engine().client(), table).list();
    expect(entries).toHaveLength(rounds);
    expect(entries.every((entry) => entry.status === "processed" && entry.attempts === 1)).toBe(true);
    expect(harness.overlaps).toBe(0);
    // Both kinds of answer to a concurrent duplicate happened, so both paths were exercised.
    expect(statuses.get("409 in_progress") ?? 0).toBeGreaterThan(0);
    book.add(`same-event bursts on ${engine().name}`, rounds);
    book.add("same-event deliveries", rounds * 16);
    book.add("same-event 409 in_progress", statuses.get("409 in_progress") ?? 0);
    book.add("same-event 200 duplicate", statuses.get("200 duplicate") ?? 0);
    book.add("same-event handler runs", harness.effects.count());
  });

  it("1,000 deliveries over 300 events, 16 at once, random duplicates, 409s retried: each event processed exactly once", async () => {
    const table = await engine().createLedgerTable();
    const random = seededRandom(20261122);
    const harness = new Harness({ watch, secret, table, client, handlerBody: () => sleep(randomInt(random, 6)) });
    const events = Array.from({ length: 300 }, (_, i) => harness.delivery(eventCatalog[i % eventCatalog.length]));
    // Every event once, then 700 duplicates of random events, in random order.
    const schedule: Delivery[] = shuffle(random, [
      ...events,
      ...Array.from({ length: 700 }, () => events[randomInt(random, events.length)] as Delivery),
    ]);
    const answers: Outcome[] = [];
    let retries = 0;
    let inFlight = 0;
    let peak = 0;
    const sent = await runPool(
      [...schedule],
      16,
      async (item, queue) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        const answer = await harness.invoke(item);
        inFlight -= 1;
        answers.push(answer);
        // Stripe retries anything but a 2xx; an in-progress event is retried until it settles.
        if (answer.status === 409) {
          retries += 1;
          queue.push(item);
        }
      },
      5_000,
    );

    const ids = events.map((item) => item.event.id);
    const effectsPerEvent = ids.map((id) => harness.effects.count(id));
    expect(effectsPerEvent.filter((count) => count !== 1)).toEqual([]);
    expect(harness.effects.count()).toBe(300);
    expect(answers.every((answer) => answer.status === 200 || answer.status === 409)).toBe(true);
    expect(answers.filter((answer) => answer.code === "processed")).toHaveLength(300);
    expect(harness.overlaps).toBe(0);
    expect(harness.runsAfterRecorded).toBe(0);
    expect(peak).toBe(16);
    const entries = await ledgerReader(engine().client(), table).list();
    expect(entries.map((entry) => entry.id).sort()).toEqual([...ids].sort());
    expect(entries.every((entry) => entry.status === "processed" && entry.attempts === 1)).toBe(true);

    book.add(`mixed runs on ${engine().name}`);
    book.add("mixed deliveries", sent);
    book.add("mixed scheduled duplicates", schedule.length - events.length);
    book.add("mixed 409 retries", retries);
    book.add("mixed events", events.length);
    book.add("mixed handler runs", harness.effects.count());
    book.add("events lost", effectsPerEvent.filter((count) => count === 0).length);
    book.add("double-processed", effectsPerEvent.filter((count) => count > 1).length + harness.overlaps);
  });
});

describe("leak scan of this suite", () => {
  it("finds no secret, Stripe-Signature value or planted payload marker in any answer or log line", () => {
    expect(watch.jsonLines().length).toBeGreaterThan(1000);
    expectNoLeaks(watch, book);
  });
});
