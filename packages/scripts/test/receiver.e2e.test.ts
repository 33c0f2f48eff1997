import { eventCatalog } from "@stripe-webhooks/core/catalog";
import { buildEvent, newWebhookSecret, signPayload } from "@stripe-webhooks/stripe-fixtures/events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScript, startReceiver, stopReceiver, tempDataDir, type Receiver } from "./helpers/processes.ts";

/*
 * The real `npm start` (in-memory ledger, random port, a given secret), driven by the real
 * `npm run trigger`, raw HTTP, and read back with `npm run events -- --json`.
 */

interface Entry {
  id: string;
  type: string;
  status: string;
  attempts: number;
  processedAt?: string;
}

interface Delivery {
  id: string;
  status: number;
  response: string;
}

const secret = newWebhookSecret();
const data = tempDataDir();
const env = { DATA_DIR: data.dir, STRIPE_WEBHOOK_SECRET: secret };
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver({ ...env, PORT: "0" }, ["--memory"]);
});

afterAll(async () => {
  if (receiver) {
    await stopReceiver(receiver);
  }
  data.remove();
});

async function events(args: string[] = []): Promise<Entry[]> {
  const run = await runScript("events", ["--json", ...args], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Entry[];
}

async function entry(id: string): Promise<Entry | undefined> {
  return (await events()).find((candidate) => candidate.id === id);
}

function post(body: string | Buffer, headers: Record<string, string>): Promise<Response> {
  return fetch(receiver.url, { method: "POST", headers, body });
}

function signedEvent(type = "invoice.paid"): { id: string; payload: string; signature: string } {
  const event = buildEvent(type);
  const payload = JSON.stringify(event, null, 2);
  return { id: String(event.id), payload, signature: signPayload(payload, secret) };
}

describe("npm start", () => {
  it("announces the webhook URL, the secret, where data lives and how to forward with the Stripe CLI", () => {
    const output = receiver.output();
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/stripe\/webhook$/);
    expect(receiver.url).not.toMatch(/:3000\//);
    expect(output).toContain(`Webhook URL     ${receiver.url}`);
    expect(output).toContain(secret);
    expect(output).toContain("in memory (--memory)");
    // Without STRIPE_API_KEY no Stripe CLI runs; the banner says how to get one running.
    expect(output).toContain("STRIPE_API_KEY=sk_test_... npm start");
    expect(output).not.toContain("Stripe CLI      ");
    expect(output).not.toContain("[stripe]");
  });

  it("trigger delivers a signed checkout.session.completed (200) and events shows it processed", async () => {
    const run = await runScript("trigger", ["checkout.session.completed", "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const [delivery] = JSON.parse(run.stdout) as Delivery[];
    expect(delivery).toMatchObject({ status: 200 });
    expect(JSON.parse(delivery?.response ?? "{}")).toEqual({ result: "processed" });

    const recorded = await entry(delivery?.id ?? "");
    expect(recorded).toMatchObject({ type: "checkout.session.completed", status: "processed", attempts: 1 });
    expect(recorded?.processedAt).toEqual(expect.any(String));
    // One readable line per request: id, type, outcome, duration.
    await receiver.waitFor(new RegExp(`POST /stripe/webhook 200 ${delivery?.id} checkout.session.completed processed \\d+ms`), 5000);
  });

  it("trigger --duplicates: every redelivery is acknowledged, each event is handled once", async () => {
    const run = await runScript("trigger", ["invoice.payment_failed", "--count", "2", "--duplicates", "2", "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const deliveries = JSON.parse(run.stdout) as Delivery[];
    expect(deliveries).toHaveLength(6);
    expect(deliveries.every((delivery) => delivery.status === 200)).toBe(true);
    expect(deliveries.map((delivery) => JSON.parse(delivery.response).result)).toEqual([
      "processed", "duplicate", "duplicate", "processed", "duplicate", "duplicate",
    ]);

    const listed = await events(["--type", "invoice.payment_failed"]);
    expect(listed).toHaveLength(2);
    expect(new Set(listed.map((item) => item.id))).toEqual(new Set(deliveries.map((delivery) => delivery.id)));
    expect(listed.every((item) => item.status === "processed" && item.attempts === 1)).toBe(true);
  });

  it("trigger exits non-zero when deliveries are refused (wrong secret)", async () => {
    const run = await runScript("trigger", ["invoice.paid", "--secret", newWebhookSecret()], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/-> 400 .*invalid_signature/);
    expect(run.stdout).toMatch(/1 deliveries .*: 0 ok, 1 unexpected/);
  });

  it("trigger --list names every catalog type, marked as such", async () => {
    const run = await runScript("trigger", ["--list", "--json"], env);
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.stdout) as { type: string; catalog: boolean }[];
    expect(listed.filter((item) => item.catalog).map((item) => item.type)).toEqual([...eventCatalog]);
  });

  it("raw HTTP: valid, duplicate, tampered, wrong method and a binary content type", async () => {
    const valid = signedEvent("customer.subscription.created");
    const headers = { "content-type": "application/json", "stripe-signature": valid.signature };

    const first = await post(valid.payload, headers);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await first.json()).toEqual({ result: "processed" });

    const again = await post(valid.payload, headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ result: "duplicate" });

    const tampered = signedEvent("customer.subscription.deleted");
    const forged = tampered.payload.replace('"livemode": false', '"livemode": false, "forged": true');
    const refused = await post(forged, { "content-type": "application/json", "stripe-signature": tampered.signature });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "invalid_signature" });

    const get = await fetch(receiver.url);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");

    // A binary content type reaches the handler base64-encoded, as in Lambda; it refuses it.
    const binary = signedEvent("customer.subscription.updated");
    const octets = await post(Buffer.from(binary.payload), {
      "content-type": "application/octet-stream",
      "stripe-signature": binary.signature,
    });
    expect(octets.status).toBe(415);
    expect(await octets.json()).toMatchObject({ error: "unsupported_media_type" });

    const ledger = await events();
    expect(ledger.find((item) => item.id === valid.id)).toMatchObject({ status: "processed", attempts: 1 });
    expect(ledger.find((item) => item.id === tampered.id)).toBeUndefined();
    expect(ledger.find((item) => item.id === binary.id)).toBeUndefined();
    await receiver.waitFor(/POST \/stripe\/webhook 400 \S+ customer\.subscription\.deleted invalid_signature/, 5000);
    await receiver.waitFor(/GET \/stripe\/webhook 405 - - method_not_allowed/, 5000);
  });

  it("events filters by status and type and limits newest first", async () => {
    // Independent reads of a ledger nobody writes to now: run side by side.
    const [all, limited, failed, processed, table] = await Promise.all([
      events(),
      events(["--limit", "2"]),
      events(["--status", "failed"]),
      events(["--status", "processed", "--type", "checkout.session.completed"]),
      runScript("events", [], env),
    ]);
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(limited).toEqual(all.slice(0, 2));
    expect(failed).toEqual([]);
    expect(processed.length).toBeGreaterThanOrEqual(1);
    expect(processed.every((item) => item.type === "checkout.session.completed")).toBe(true);

    expect(table.stdout).toMatch(/^ID\s+TYPE\s+STATUS\s+ATTEMPTS\s+FIRST SEEN\s+PROCESSED AT\s+LAST ERROR$/m);
    expect(table.stdout).toContain(all[0]?.id ?? "none");
  });

  it("never prints signature headers or payloads", () => {
    const output = receiver.output();
    expect(output).not.toMatch(/t=\d+,v1=/);
    expect(output).not.toContain('"object": "event"');
    expect(output).not.toContain("data.object");
  });
});
