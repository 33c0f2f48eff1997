import { AsyncLocalStorage } from "node:async_hooks";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { effectKeyPrefix } from "@stripe-webhooks/core/effects";
import type { SqsFifoStandIn } from "../../packages/scripts/src/sqs-fifo-standin.ts";

/*
 * What the renewal burst counts, and on whose behalf. Every DynamoDB and SQS request is charged
 * to the delivery that caused it: a webhook invocation runs inside `chargeTo(kind)`, and
 * AsyncLocalStorage carries that through every await into the SDK's middleware; a send to the
 * queue, which another process takes, carries the kind with it (`chargedTo`) and is charged there
 * inside `chargeTo` again. What runs outside any delivery is the queue consumer's work (or its
 * idle polling).
 */

/** Who a request is charged to: an event's first delivery, a later one, or the queue's consumer. */
export type Payer = Delivery | "consumer";

/** The two kinds of delivery. */
export type Delivery = "new" | "duplicate";

const payer = new AsyncLocalStorage<Delivery>();

/** Runs `work` with every request it makes charged to `kind`. */
export function chargeTo<T>(kind: Delivery, work: () => Promise<T>): Promise<T> {
  return payer.run(kind, work);
}

/**
 * DynamoDB's on-demand billing units, approximated for these items (each well under 1 KB, so
 * under 4 KB for a read): one read unit per consistent read, one write unit per write, a
 * condition that fails included, and two per item written in a transaction. On an engine
 * without transactions the ledger writes a staged effect on its own before the completion;
 * `awsRequests` and the units count that pair as the one transaction AWS would bill.
 */
export interface DynamoTally {
  /** As sent to the engine. */
  requests: number;
  /** As AWS would bill them (see above). */
  awsRequests: number;
  readUnits: number;
  writeUnits: number;
  byOperation: Record<string, number>;
}

/**
 * SQS requests as billed: each 64 KiB chunk of a payload counts as one request. Receives that
 * found nothing are kept apart (`emptyReceives`): they cost by the hour of polling, not by event.
 */
export interface SqsTally {
  requests: number;
  byOperation: Record<string, number>;
  emptyReceives: number;
}

const emptyDynamo = (): DynamoTally => ({ requests: 0, awsRequests: 0, readUnits: 0, writeUnits: 0, byOperation: {} });
const emptySqs = (): SqsTally => ({ requests: 0, byOperation: {}, emptyReceives: 0 });

export interface Tallies {
  dynamo: Record<Payer, DynamoTally>;
  sqs: Record<Payer, SqsTally>;
}

export function newTallies(): Tallies {
  return {
    dynamo: { new: emptyDynamo(), duplicate: emptyDynamo(), consumer: emptyDynamo() },
    sqs: { new: emptySqs(), duplicate: emptySqs(), consumer: emptySqs() },
  };
}

const current = (): Payer => payer.getStore() ?? "consumer";

/** The delivery the running invocation is charged to, for a request another process makes for it. */
export function chargedTo(): Delivery {
  const delivery = payer.getStore();
  if (delivery === undefined) throw new Error("chargedTo() was called outside any delivery");
  return delivery;
}

function units(operation: string, input: unknown): { requests: number; read: number; write: number } {
  if (operation === "GetItemCommand" || operation === "QueryCommand" || operation === "ScanCommand") return { requests: 1, read: 1, write: 0 };
  if (operation === "TransactWriteItemsCommand") {
    const items = (input as { TransactItems?: unknown[] }).TransactItems?.length ?? 0;
    return { requests: 1, read: 0, write: 2 * items };
  }
  // A staged effect written on its own (an engine without transactions): on AWS it rides in
  // the completion's transaction, no request of its own, two units, and the completion's one more.
  const key = (input as { Key?: { pk?: { S?: string } }; Item?: { pk?: { S?: string } } }).Key ?? (input as { Item?: { pk?: { S?: string } } }).Item;
  if (key?.pk?.S?.startsWith(effectKeyPrefix)) return { requests: 0, read: 0, write: 3 };
  return { requests: 1, read: 0, write: 1 };
}

/** Counts every command `client` sends, charged to the current payer. Call before its first send. */
export function countDynamo(client: DynamoDBClient, tallies: Tallies): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = context.commandName ?? "unknown";
      const tally = tallies.dynamo[current()];
      const { requests, read, write } = units(operation, args.input);
      tally.requests += 1;
      tally.awsRequests += requests;
      tally.readUnits += read;
      tally.writeUnits += write;
      tally.byOperation[operation] = (tally.byOperation[operation] ?? 0) + 1;
      return next(args);
    },
    { step: "initialize", name: "benchRenewalCount" },
  );
}

const chunkBytes = 64 * 1024;
const chunks = (bytes: number) => Math.max(1, Math.ceil(bytes / chunkBytes));

function chargeSqs(tallies: Tallies, operation: string, requests: number): void {
  const tally = tallies.sqs[current()];
  tally.requests += requests;
  tally.byOperation[operation] = (tally.byOperation[operation] ?? 0) + requests;
}

/**
 * Counts the stand-in's SQS calls at its API: sends (the webhook's, and the consumer's to the
 * dead-letter queue), receives (the polling driver's), batch deletes and visibility changes.
 * The driver calls them through the instance, so these wrappers see its calls too.
 */
export function countSqs(standIn: SqsFifoStandIn, tallies: Tallies): void {
  const send = standIn.sendMessage.bind(standIn);
  const receive = standIn.receiveMessage.bind(standIn);
  const deleteBatch = standIn.deleteMessageBatch.bind(standIn);
  const visibility = standIn.changeMessageVisibility.bind(standIn);
  const deadLetter = standIn.sendToDeadLetterQueue.bind(standIn);
  Object.assign(standIn, {
    sendMessage: (input: Parameters<typeof send>[0]) => {
      chargeSqs(tallies, "SendMessage", chunks(Buffer.byteLength(input.MessageBody)));
      return send(input);
    },
    receiveMessage: async (options?: Parameters<typeof receive>[0]) => {
      const messages = await receive(options);
      if (messages.length === 0) tallies.sqs[current()].emptyReceives += 1;
      else chargeSqs(tallies, "ReceiveMessage", chunks(messages.reduce((sum, m) => sum + Buffer.byteLength(m.Body), 0)));
      return messages;
    },
    deleteMessageBatch: (handles: Parameters<typeof deleteBatch>[0]) => {
      if (handles.length > 0) chargeSqs(tallies, "DeleteMessageBatch", 1);
      return deleteBatch(handles);
    },
    changeMessageVisibility: (handle: string, seconds: number) => {
      chargeSqs(tallies, "ChangeMessageVisibility", 1);
      return visibility(handle, seconds);
    },
    sendToDeadLetterQueue: (input: Parameters<typeof deadLetter>[0], receiveCount?: number) => {
      chargeSqs(tallies, "SendMessage", chunks(Buffer.byteLength(input.MessageBody)));
      return deadLetter(input, receiveCount);
    },
  });
}

/**
 * A loopback proxy in front of the Stripe API double that answers each request `latencyMs`
 * later: the double answers at once, Stripe's API does not, and the time a request takes is
 * what paces a consumer that makes one at a time.
 */
export async function startLatencyProxy(target: string, latencyMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((incoming, outgoing) => {
    const chunksIn: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunksIn.push(chunk));
    incoming.on("end", () => {
      setTimeout(() => {
        const forwarded = request(
          { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
          (answer) => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(outgoing);
          },
        );
        forwarded.on("error", () => outgoing.destroy());
        forwarded.end(Buffer.concat(chunksIn));
      }, latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
