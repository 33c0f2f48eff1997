import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describeEachEngine } from "@stripe-webhooks/testing/engine-suites";
import { createLedger } from "@stripe-webhooks/core/ledger";
import { createWebhookApp } from "@stripe-webhooks/core/app";
import type { WebhookRequest } from "@stripe-webhooks/core/request";
import { newWebhookSecret } from "@stripe-webhooks/stripe-fixtures/events";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { badInputCases, type BadInputCase, type CaseContext } from "./support/bad-input-cases.ts";
import { delivery, multiSigned, nowSeconds, toLambdaEvent, toWebhookRequest, type RawRequest } from "./support/deliveries.ts";
import { FigureBook } from "./support/figures.ts";
import { effectRegistry, loadLambdaHandler, scanTable, stageDependencies, type Answer } from "./support/handler-module.ts";
import { send } from "./support/http.ts";
import { expectNoLeaks, LeakWatch } from "./support/leaks.ts";
import { startLocalReceiver, type LocalReceiver } from "./support/receiver.ts";

/*
 * Bad input, table-driven (support/bad-input-cases.ts), over HTTP against the real `npm start`
 * and directly against the Lambda entry on dynalite and DynamoDB Local; then secret rotation.
 * Every case: the expected status and code, the ledger byte-for-byte unchanged, no handler run,
 * nothing sensitive in the answer or in the logs it caused.
 */

const watch = new LeakWatch();
const secret = watch.secret(newWebhookSecret());
const previousSecret = watch.secret(newWebhookSecret());
const book = new FigureBook("bad-input");
let receiverStarting: Promise<LocalReceiver> | undefined;

beforeAll(() => {
  // Started now, awaited by the HTTP cases, so it boots while DynamoDB Local does.
  receiverStarting = startLocalReceiver([secret, previousSecret]);
  receiverStarting.catch(() => undefined);
  watch.startCapture();
});

afterAll(async () => {
  watch.stopCapture();
  await (await receiverStarting?.catch(() => undefined))?.stop();
  book.write();
});

interface Transport {
  name: string;
  send(request: RawRequest, lambdaEvent?: (event: LambdaFunctionURLEvent) => LambdaFunctionURLEvent): Promise<Answer>;
  ledger(): Promise<string>;
  runs(): number;
  /** Everything logged since `mark()`. */
  mark(): number;
  logsSince(mark: number): string;
}

async function runCase(transport: Transport, testCase: BadInputCase): Promise<void> {
  const context: CaseContext = { watch, secret, previousSecret, send: (request) => transport.send(request) };
  const request = await testCase.build(context);
  const ledgerBefore = await transport.ledger();
  const runsBefore = transport.runs();
  const mark = transport.mark();

  const answer = await transport.send(request, testCase.lambdaEvent);
  book.add("requests");

  const shown = JSON.stringify(answer);
  watch.shown(`${transport.name} answer`, shown);
  expect(answer.status).toBe(testCase.status);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  expect(body[testCase.status < 300 ? "result" : "error"]).toBe(testCase.code);
  if (testCase.status === 405) expect(answer.headers.allow).toBe("POST");
  const ledgerAfter = await transport.ledger();
  if (testCase.accepted) {
    expect(transport.runs() - runsBefore).toBe(testCase.accepted.runs);
    expect(ledgerAfter).not.toBe(ledgerBefore);
    book.add("controls accepted");
  } else {
    expect(transport.runs() - runsBefore, "no handler may run").toBe(0);
    expect(ledgerAfter === ledgerBefore, "the ledger must be unchanged").toBe(true);
    book.add("refusals");
  }
  expect(watch.findIn(`${transport.name}: ${testCase.name}`, `${shown}\n${transport.logsSince(mark)}`)).toEqual([]);
  expect(Object.prototype).not.toHaveProperty("polluted");
}

describe("bad input over HTTP, against npm start", () => {
  let local: LocalReceiver;
  let sent = 0;

  const transport: Transport = {
    name: "HTTP",
    async send(request) {
      sent += 1;
      const answer = await send(local.url, request);
      // The handler's logs precede the receiver's request line in its output.
      await local.settled(sent);
      return answer;
    },
    ledger: () => scanTable(local.client, local.table),
    runs: () => local.handlerRuns(),
    mark: () => local.outputAfterReady().length,
    logsSince: (mark) => local.outputAfterReady().slice(mark),
  };

  beforeAll(async () => {
    if (!receiverStarting) throw new Error("the receiver was not started");
    local = await receiverStarting;
  });

  afterAll(() => {
    // The whole of the receiver's output, for the final scan.
    watch.shown("npm start output", local.outputAfterReady());
  });

  for (const testCase of badInputCases.filter((candidate) => candidate.lambdaEvent === undefined)) {
    it(`${testCase.status} for ${testCase.name}`, async () => {
      await runCase(transport, testCase);
      book.add("cases over HTTP");
    });
  }

  it("during a rotation accepts the old secret alone, the new one alone and both, and never a third", async () => {
    const third = watch.secret(newWebhookSecret());
    const cases: [readonly string[], number][] = [
      [[previousSecret], 200],
      [[secret], 200],
      [[secret, previousSecret], 200],
      [[third], 400],
    ];
    for (const [signers, status] of cases) {
      const genuine = delivery(watch, "invoice.paid", { secret });
      const header = multiSigned(watch, genuine.payload, signers, nowSeconds());
      const answer = await transport.send({ ...genuine.request, headers: { ...genuine.request.headers, "stripe-signature": header } });
      watch.shown("HTTP answer", JSON.stringify(answer));
      book.add("requests");
      expect(answer.status).toBe(status);
      book.add(status === 200 ? "rotation genuine accepted" : "rotation third-secret refused");
    }
  });
});

describeEachEngine("bad input against the Lambda entry", (engine) => {
  const table = "reliability-bad-input";
  let client: DynamoDBClient;
  let loaded: ReturnType<typeof loadLambdaHandler>;

  const transport: Transport = {
    name: "direct",
    send: (request, lambdaEvent) => {
      const event = toLambdaEvent(request);
      return loaded.invoke(lambdaEvent ? lambdaEvent(event) : event);
    },
    ledger: () => scanTable(client, table),
    runs: () => loaded.runs.count(),
    mark: () => watch.mark(),
    logsSince: (mark) => watch.since(mark).map(({ text }) => text).join(""),
  };

  beforeAll(async () => {
    await engine().createLedgerTable(table);
    client = engine().client();
    loaded = loadLambdaHandler({ client, table, secrets: [secret, previousSecret] });
    book.ranOn(engine().name);
  });

  afterAll(() => client.destroy());

  for (const testCase of badInputCases) {
    it(`${testCase.status} for ${testCase.name}`, async () => {
      await runCase(transport, testCase);
      book.add(`cases direct on ${engine().name}`);
    });
  }

  describe("secret rotation", () => {
    it("rejects no genuine delivery across a roll, and accepts no third secret at any step", async () => {
      const oldSecret = watch.secret(newWebhookSecret());
      const newSecret = watch.secret(newWebhookSecret());
      const third = watch.secret(newWebhookSecret());
      // Each step: what the stage holds, how Stripe signs genuine deliveries then, and what a
      // sender that is not Stripe may try.
      const steps: { step: string; holds: string[]; genuine: string[][]; refused: string[][] }[] = [
        { step: "before the roll", holds: [oldSecret], genuine: [[oldSecret]], refused: [[third], [newSecret]] },
        { step: "rolled in Stripe, not yet deployed", holds: [oldSecret], genuine: [[newSecret, oldSecret]], refused: [[third]] },
        {
          step: "deployed with new,old",
          holds: [newSecret, oldSecret],
          genuine: [[newSecret, oldSecret], [oldSecret, newSecret], [newSecret], [oldSecret]],
          refused: [[third], [third, third]],
        },
        { step: "old secret expired in Stripe", holds: [newSecret, oldSecret], genuine: [[newSecret]], refused: [[third]] },
        { step: "old secret removed from the stage", holds: [newSecret], genuine: [[newSecret]], refused: [[third], [oldSecret]] },
      ];
      let genuineSent = 0;
      let genuineRejected = 0;
      let forgedAccepted = 0;
      const problems: string[] = [];
      for (const { step, holds, genuine, refused } of steps) {
        // A deploy: the function starts with the stage's new secret value (what webhook.ts builds).
        const stage = stagePipeline(client, table, holds);
        for (const signers of [...genuine, ...refused]) {
          for (let i = 0; i < 3; i += 1) {
            const base = delivery(watch, i === 0 ? "invoice.paid" : "checkout.session.completed", { secret: oldSecret });
            const header = multiSigned(watch, base.payload, signers, nowSeconds());
            const answer = await stage.invoke(toWebhookRequest({ ...base.request, headers: { ...base.request.headers, "stripe-signature": header } }));
            watch.shown("direct answer", JSON.stringify(answer));
            book.add("requests");
            if (genuine.includes(signers)) {
              genuineSent += 1;
              if (answer.status !== 200 || stage.runs.count(base.event.id) !== 1) {
                genuineRejected += 1;
                problems.push(`${step}: ${answer.status} ${answer.body} runs ${stage.runs.count(base.event.id)}`);
              }
            } else {
              if (answer.status !== 400 || stage.runs.count(base.event.id) !== 0) forgedAccepted += 1;
            }
          }
        }
      }
      book.add("rotation steps", steps.length);
      book.add("rotation genuine accepted", genuineSent - genuineRejected);
      book.add("rotation genuine rejected", genuineRejected);
      book.add("rotation third-secret refused", steps.reduce((sum, step) => sum + step.refused.length * 3, 0) - forgedAccepted);
      book.add("rotation forged accepted", forgedAccepted);
      expect(problems).toEqual([]);
      expect({ genuineSent, genuineRejected, forgedAccepted }).toEqual({ genuineSent: 24, genuineRejected: 0, forgedAccepted: 0 });
    });
  });
});

/** The pipeline as the composition root builds it, for a stage holding `secrets`. */
function stagePipeline(client: DynamoDBClient, table: string, secrets: readonly string[]) {
  const registry = effectRegistry(async () => undefined);
  const app = createWebhookApp(stageDependencies({ client, table, secrets, registry: registry.registry }));
  return {
    runs: registry.effects,
    invoke: async (request: WebhookRequest): Promise<Answer> => {
      const response = await app.handleWebhook(request);
      return { status: response.statusCode, headers: response.headers, body: response.body };
    },
  };
}

describe("leak scan of this suite", () => {
  it("finds no secret, Stripe-Signature value or planted payload marker in any answer or log line", () => {
    expect(watch.bytesShown).toBeGreaterThan(10_000);
    expectNoLeaks(watch, book);
  });
});
