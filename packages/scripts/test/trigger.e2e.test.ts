import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eventCatalog } from "@stripe-webhooks/core/catalog";
import { webhookPath } from "@stripe-webhooks/core/webhook-path";
import { newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";
import { typesOutsideCatalog } from "@stripe-webhooks/scripts/event-types";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runScript, tempDataDir } from "./helpers/processes.ts";

/*
 * The real `npm run trigger` against a bare HTTP listener that records what reaches it: a type
 * the tool does not send is refused before anything is posted, and --list tells the catalog's
 * types from the others.
 */

const data = tempDataDir();
const received: string[] = [];
let server: Server;
let env: Record<string, string>;
let url: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push(body);
      response.writeHead(200, { "content-type": "application/json" }).end('{"result":"ignored"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${webhookPath}`;
  env = { DATA_DIR: data.dir, STRIPE_WEBHOOK_SECRET: newWebhookSecret() };
});

beforeEach(() => {
  received.length = 0;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  data.remove();
});

describe("npm run trigger", () => {
  it("a mistyped type exits 2 with the closest catalog type, and sends nothing", async () => {
    const run = await runScript("trigger", ["checkout.session.complete", "--url", url], env);

    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: unknown event type "checkout\.session\.complete": nothing was sent\. Did you mean: checkout\.session\.completed[,?]/m);
    expect(run.stderr).toContain("--list");
    expect(received).toEqual([]);
  }, 60_000);

  it("a type holding terminal controls is refused with them escaped", async () => {
    const run = await runScript("trigger", ["invoice.\u001b[31mpaid\u202e", "--url", url], env);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown event type "invoice.\\u{001B}[31mpaid\\u{202E}"');
    expect(run.stderr).not.toMatch(/[\u001b\u202e]/u);
    expect(received).toEqual([]);
  }, 60_000);

  it("a listed type outside the catalog is sent, with a note that a stage is not subscribed to it", async () => {
    const run = await runScript("trigger", ["charge.succeeded", "--url", url], env);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/note: charge\.succeeded is not in the catalog/);
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0] ?? "{}")).toMatchObject({ type: "charge.succeeded" });
  }, 60_000);

  it("--list marks which types are in the catalog and which are not", async () => {
    const [text, json] = await Promise.all([runScript("trigger", ["--list"], env), runScript("trigger", ["--list", "--json"], env)]);

    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^TYPE +CATALOG$/m);
    for (const type of eventCatalog) expect(text.stdout).toMatch(new RegExp(`^${type.replace(/\./g, "\\.")} +yes$`, "m"));
    for (const type of typesOutsideCatalog) expect(text.stdout).toMatch(new RegExp(`^${type.replace(/\./g, "\\.")} +no$`, "m"));
    expect(text.stdout).toMatch(/others as ignored/);

    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      ...eventCatalog.map((type) => ({ type, catalog: true })),
      ...typesOutsideCatalog.map((type) => ({ type, catalog: false })),
    ]);
    expect(received).toEqual([]);
  }, 60_000);
});
