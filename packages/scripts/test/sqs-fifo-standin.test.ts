import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import { rejected } from "@stripe-webhooks/testing/thrown";
import {
  SqsStandInError,
  deduplicationWindowMs,
  openSqsFifoStandIn,
  type ReceivedMessage,
  type SqsBatchHandler,
  type SqsFifoStandIn,
  type SqsFifoStandInOptions,
  type SqsStandInErrorCode,
} from "../src/sqs-fifo-standin.ts";

// Time moves only when a test moves it.
class Clock {
  ms = 1_760_000_000_000;
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

const dirs: string[] = [];
const queues: SqsFifoStandIn[] = [];

afterEach(async () => {
  await Promise.all(queues.splice(0).map((queue) => queue.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sqs-standin-"));
  dirs.push(dir);
  return dir;
}

async function openQueue(clock: Clock, options: Partial<SqsFifoStandInOptions> = {}): Promise<SqsFifoStandIn> {
  const queue = await openSqsFifoStandIn({ dir: options.dir ?? tempDir(), now: clock.now, ...options });
  queues.push(queue);
  return queue;
}

function journalPath(dir: string): string {
  return join(dir, "stripe-events.fifo.journal");
}

function send(queue: SqsFifoStandIn, group: string, name: string, body = `${group}:${name}`) {
  return queue.sendMessage({ MessageBody: body, MessageGroupId: group, MessageDeduplicationId: name });
}

function bodies(messages: ReceivedMessage[]): string[] {
  return messages.map((message) => message.Body);
}

async function refusal(act: () => Promise<unknown>): Promise<SqsStandInError> {
  return rejected(SqsStandInError, act);
}

async function expectCode(act: () => Promise<unknown>, code: SqsStandInErrorCode): Promise<void> {
  expect((await refusal(act)).code).toBe(code);
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

// Lets pending callbacks and I/O run without measuring any time.
async function settle(rounds = 20): Promise<void> {
  for (let round = 0; round < rounds; round += 1) await new Promise((done) => setImmediate(done));
}

describe("message groups", () => {
  it("gives a group's messages in send order, the group with the oldest message first", async () => {
    const queue = await openQueue(new Clock());
    for (const [group, name] of [["a", "1"], ["b", "1"], ["a", "2"], ["a", "3"], ["b", "2"]] as const) {
      await send(queue, group, `${group}${name}`);
    }

    const batch = await queue.receiveMessage({ maxMessages: 10 });

    expect(bodies(batch)).toEqual(["a:a1", "a:a2", "a:a3", "b:b1", "b:b2"]);
    const sequence = batch.map((message) => BigInt(message.Attributes.SequenceNumber));
    expect(sequence.slice(0, 3)).toEqual([...sequence.slice(0, 3)].sort((x, y) => (x < y ? -1 : 1)));
  });

  it("holds a group back while one of its messages is in flight, while other groups flow", async () => {
    const queue = await openQueue(new Clock());
    await send(queue, "a", "a1");
    await send(queue, "a", "a2");
    await send(queue, "b", "b1");

    const [first] = await queue.receiveMessage();
    expect(first?.Body).toBe("a:a1");
    expect(bodies(await queue.receiveMessage())).toEqual(["b:b1"]);
    expect(await queue.receiveMessage()).toEqual([]);

    await queue.deleteMessage(first?.ReceiptHandle ?? "");
    expect(bodies(await queue.receiveMessage())).toEqual(["a:a2"]);
  });

  it("keeps a group held while any of its messages is in flight, even after an earlier one is deleted", async () => {
    const queue = await openQueue(new Clock());
    await send(queue, "a", "a1");
    await send(queue, "a", "a2");
    const [first] = await queue.receiveMessage({ maxMessages: 2 });

    await queue.deleteMessage(first?.ReceiptHandle ?? "");
    await send(queue, "a", "a3");

    expect(await queue.receiveMessage({ maxMessages: 10 })).toEqual([]);
  });

  it("does not redeliver an earlier message made visible while a later one of its group is in flight", async () => {
    const queue = await openQueue(new Clock());
    await send(queue, "a", "a1");
    await send(queue, "a", "a2");
    const [first, second] = await queue.receiveMessage({ maxMessages: 2 });

    await queue.changeMessageVisibility(first?.ReceiptHandle ?? "", 0);

    expect(await queue.receiveMessage({ maxMessages: 10 })).toEqual([]);
    await queue.deleteMessage(second?.ReceiptHandle ?? "");
    expect(bodies(await queue.receiveMessage())).toEqual(["a:a1"]);
  });
});

describe("deduplication", () => {
  it("accepts a repeat within five minutes without queueing it, answering the original's MessageId", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock);
    const original = await send(queue, "a", "evt_1", "first");

    clock.advance(deduplicationWindowMs - 1);
    const repeat = await send(queue, "a", "evt_1", "second");

    expect(repeat.MessageId).toBe(original.MessageId);
    expect(queue.counts().visible).toBe(1);
    expect(bodies(await queue.receiveMessage({ maxMessages: 10 }))).toEqual(["first"]);
  });

  it("still drops the repeat when the original has already been deleted", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock);
    const original = await send(queue, "a", "evt_1");
    const [received] = await queue.receiveMessage();
    await queue.deleteMessage(received?.ReceiptHandle ?? "");

    const repeat = await send(queue, "a", "evt_1");

    expect(repeat.MessageId).toBe(original.MessageId);
    expect(queue.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it("queues the same deduplication id again once the window has passed", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock);
    const original = await send(queue, "a", "evt_1");

    clock.advance(deduplicationWindowMs);
    const later = await send(queue, "a", "evt_1");

    expect(later.MessageId).not.toBe(original.MessageId);
    expect(queue.counts().visible).toBe(2);
  });
});

describe("visibility timeout", () => {
  it("redelivers a message whose visibility timeout ended, with a higher count and a new receipt handle", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    await send(queue, "a", "a1");
    const [first] = await queue.receiveMessage();
    const firstReceivedAt = String(clock.ms);

    clock.advance(29_999);
    expect(await queue.receiveMessage()).toEqual([]);
    clock.advance(1);
    const [again] = await queue.receiveMessage();

    expect(first?.Attributes.ApproximateReceiveCount).toBe("1");
    expect(again?.MessageId).toBe(first?.MessageId);
    expect(again?.Attributes.ApproximateReceiveCount).toBe("2");
    expect(again?.Attributes.ApproximateFirstReceiveTimestamp).toBe(firstReceivedAt);
    expect(again?.ReceiptHandle).not.toBe(first?.ReceiptHandle);
  });

  it("holds a message for a changed timeout counted from the change, and releases it at 0", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    await send(queue, "a", "a1");
    const [first] = await queue.receiveMessage();

    clock.advance(10_000);
    await queue.changeMessageVisibility(first?.ReceiptHandle ?? "", 60);
    clock.advance(59_999);
    expect(await queue.receiveMessage()).toEqual([]);
    clock.advance(1);
    const [second] = await queue.receiveMessage();
    expect(second?.Attributes.ApproximateReceiveCount).toBe("2");

    await queue.changeMessageVisibility(second?.ReceiptHandle ?? "", 0);
    const [third] = await queue.receiveMessage();
    expect(third?.Attributes.ApproximateReceiveCount).toBe("3");
  });

  it("uses a receive's own visibility timeout over the queue's", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    await send(queue, "a", "a1");
    await queue.receiveMessage({ visibilityTimeoutSeconds: 5 });

    clock.advance(5_000);

    expect(bodies(await queue.receiveMessage())).toEqual(["a:a1"]);
  });
});

describe("receipt handles", () => {
  it("refuses a handle from an earlier receive, and a handle whose visibility has ended", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    await send(queue, "a", "a1");
    const [first] = await queue.receiveMessage();
    clock.advance(30_000);
    const [second] = await queue.receiveMessage();
    const stale = first?.ReceiptHandle ?? "";
    const latest = second?.ReceiptHandle ?? "";

    await expectCode(() => queue.deleteMessage(stale), "InvalidParameterValue");
    await expectCode(() => queue.changeMessageVisibility(stale, 10), "InvalidParameterValue");
    clock.advance(30_000);
    await expectCode(() => queue.changeMessageVisibility(latest, 10), "MessageNotInflight");
    await expectCode(() => queue.deleteMessage(latest), "InvalidParameterValue");

    expect(queue.counts()).toMatchObject({ visible: 1, inFlight: 0 });
  });

  it("refuses a handle that is not one, and the same handle once its message is deleted", async () => {
    const queue = await openQueue(new Clock());
    await send(queue, "a", "a1");
    const [message] = await queue.receiveMessage();
    const handle = message?.ReceiptHandle ?? "";

    await expectCode(() => queue.deleteMessage("not-a-receipt-handle"), "ReceiptHandleIsInvalid");
    await expectCode(() => queue.deleteMessage("a b"), "ReceiptHandleIsInvalid");
    await queue.deleteMessage(handle);
    await expectCode(() => queue.deleteMessage(handle), "InvalidParameterValue");
    expect(queue.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it("reports each handle of a batch delete on its own", async () => {
    const queue = await openQueue(new Clock());
    await send(queue, "a", "a1");
    const [message] = await queue.receiveMessage();

    const output = await queue.deleteMessageBatch([message?.ReceiptHandle ?? "", "bogus"]);

    expect(output.Successful).toEqual([message?.ReceiptHandle]);
    expect(output.Failed).toMatchObject([{ ReceiptHandle: "bogus", Code: "ReceiptHandleIsInvalid" }]);
  });
});

describe("dead-letter queue", () => {
  it("moves a message received maxReceiveCount times to the DLQ on the next receive, and its group moves up", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30, maxReceiveCount: 2 });
    await send(queue, "a", "a1");
    await send(queue, "a", "a2");

    expect(bodies(await queue.receiveMessage())).toEqual(["a:a1"]);
    clock.advance(30_000);
    expect(bodies(await queue.receiveMessage())).toEqual(["a:a1"]);
    clock.advance(30_000);
    expect(queue.counts()).toMatchObject({ visible: 2, deadLettered: 0 });
    const next = await queue.receiveMessage({ maxMessages: 10 });

    expect(bodies(next)).toEqual(["a:a2"]);
    expect(queue.counts()).toMatchObject({ inFlight: 1, deadLettered: 1 });
    expect(queue.deadLetters()).toMatchObject([{ Body: "a:a1", MessageGroupId: "a", MessageDeduplicationId: "a1", ReceiveCount: 2, DeadLetteredAt: clock.ms }]);
  });

  it("redrives dead letters to the tail of their group with a fresh receive count", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30, maxReceiveCount: 1 });
    await send(queue, "a", "a1");
    await queue.receiveMessage();
    clock.advance(30_000);
    await send(queue, "a", "a2");
    const [a2] = await queue.receiveMessage();
    expect(a2?.Body).toBe("a:a2");
    await queue.deleteMessage(a2?.ReceiptHandle ?? "");
    await send(queue, "a", "a3");

    expect(await queue.redrive()).toBe(1);
    const batch = await queue.receiveMessage({ maxMessages: 10 });

    expect(bodies(batch)).toEqual(["a:a3", "a:a1"]);
    expect(batch[1]?.Attributes.ApproximateReceiveCount).toBe("1");
    expect(queue.counts().deadLettered).toBe(0);
    expect(await queue.redrive()).toBe(0);
    await expectCode(() => queue.redrive({ maxMessages: 0 }), "InvalidParameterValue");
  });

  it("redrives at most maxMessages, oldest dead letter first", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30, maxReceiveCount: 1 });
    await send(queue, "a", "a1");
    await send(queue, "b", "b1");
    await queue.receiveMessage({ maxMessages: 10 });
    clock.advance(30_000);
    await queue.receiveMessage({ maxMessages: 10 });

    expect(await queue.redrive({ maxMessages: 1 })).toBe(1);

    expect(queue.deadLetters().map((letter) => letter.Body)).toEqual(["b:b1"]);
    expect(bodies(await queue.receiveMessage({ maxMessages: 10 }))).toEqual(["a:a1"]);
  });

  it("takes a consumer's own dead-letter send once per deduplication id, durably, and redrives it", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const queue = await openQueue(clock, { dir });
    const copy = { MessageBody: "a:a1", MessageGroupId: "a", MessageDeduplicationId: "a1" };

    const first = await queue.sendToDeadLetterQueue(copy, 3);
    const again = await queue.sendToDeadLetterQueue(copy, 4);
    await expectCode(() => queue.sendToDeadLetterQueue({ ...copy, MessageGroupId: "" }), "MissingParameter");
    const reopened = await openQueue(clock, { dir });

    expect(again.MessageId).toBe(first.MessageId);
    expect(reopened.deadLetters()).toEqual([expect.objectContaining({ Body: "a:a1", MessageGroupId: "a", ReceiveCount: 3 })]);
    expect(reopened.holdsDeduplicationId("a1")).toBe(true);
    expect(reopened.holdsDeduplicationId("a2")).toBe(false);
    expect(await reopened.redrive()).toBe(1);
    expect(reopened.holdsDeduplicationId("a1")).toBe(true);
    expect(bodies(await reopened.receiveMessage())).toEqual(["a:a1"]);
  });
});

describe("counts", () => {
  it("counts visible, in-flight, delayed and dead-lettered messages and the oldest one's age", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { delaySeconds: 10, visibilityTimeoutSeconds: 30, maxReceiveCount: 1 });
    expect(queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0, deadLettered: 0, oldestMessageAgeSeconds: 0 });
    await send(queue, "a", "a1");
    await send(queue, "b", "b1");
    expect(queue.counts()).toMatchObject({ visible: 0, delayed: 2 });
    expect(await queue.receiveMessage()).toEqual([]);

    clock.advance(10_000);
    await queue.receiveMessage();
    await send(queue, "c", "c1");
    clock.advance(2_500);

    expect(queue.counts()).toEqual({ visible: 1, inFlight: 1, delayed: 1, deadLettered: 0, oldestMessageAgeSeconds: 12 });
    clock.advance(30_000);
    await queue.receiveMessage({ maxMessages: 10 });
    expect(queue.counts()).toMatchObject({ deadLettered: 1, inFlight: 2 });
  });
});

describe("bad input", () => {
  it("refuses what SQS refuses, with its error code, without changing the queue or quoting the body", async () => {
    const dir = tempDir();
    const queue = await openQueue(new Clock(), { dir, maxMessageBytes: 1024 });
    const secretBody = (suffix: string) => `sk_live_donotlog${suffix}`;
    const cases: Array<[Parameters<SqsFifoStandIn["sendMessage"]>[0], SqsStandInErrorCode]> = [
      [{ MessageBody: "x", MessageGroupId: "", MessageDeduplicationId: "d1" }, "MissingParameter"],
      [{ MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "" }, "MissingParameter"],
      [{ MessageBody: "x", MessageGroupId: "g".repeat(129), MessageDeduplicationId: "d1" }, "InvalidParameterValue"],
      [{ MessageBody: "x", MessageGroupId: "cus 1", MessageDeduplicationId: "d1" }, "InvalidParameterValue"],
      [{ MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "évt" }, "InvalidParameterValue"],
      [{ MessageBody: "", MessageGroupId: "g", MessageDeduplicationId: "d1" }, "MissingParameter"],
      [{ MessageBody: secretBody("x".repeat(1024)), MessageGroupId: "g", MessageDeduplicationId: "d1" }, "InvalidParameterValue"],
      [{ MessageBody: `${"€".repeat(342)}`, MessageGroupId: "g", MessageDeduplicationId: "d1" }, "InvalidParameterValue"],
      [{ MessageBody: secretBody("\u0000"), MessageGroupId: "g", MessageDeduplicationId: "d1" }, "InvalidMessageContents"],
      [{ MessageBody: secretBody("\uffff"), MessageGroupId: "g", MessageDeduplicationId: "d1" }, "InvalidMessageContents"],
    ];

    for (const [input, code] of cases) {
      const error = await refusal(() => queue.sendMessage(input));
      expect(error.code).toBe(code);
      expect(error.message).not.toContain("donotlog");
    }
    await expectCode(() => queue.receiveMessage({ maxMessages: 11 }), "InvalidParameterValue");
    await expectCode(() => queue.receiveMessage({ maxMessages: 0 }), "InvalidParameterValue");
    await expectCode(() => queue.receiveMessage({ visibilityTimeoutSeconds: 43_201 }), "InvalidParameterValue");

    expect(queue.counts()).toMatchObject({ visible: 0, delayed: 0 });
    // The refused sends left no deduplication behind: d1 is still free.
    await send(queue, "g", "d1", "accepted");
    expect(bodies(await queue.receiveMessage())).toEqual(["accepted"]);
    expect(readFileSync(journalPath(dir), "utf8")).not.toContain("donotlog");
  });

  it("refuses settings outside SQS's ranges", async () => {
    const clock = new Clock();
    for (const options of [
      { queueName: "events" },
      { maxReceiveCount: 0 },
      { visibilityTimeoutSeconds: 43_201 },
      { delaySeconds: 901 },
      { maxMessageBytes: 1024 * 1024 + 1 },
    ]) {
      await expectCode(() => openQueue(clock, options), "InvalidAttributeValue");
    }
  });
});

describe("durability", () => {
  it("keeps every acknowledged change when reopened without being closed, as after kill -9", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const settings = { dir, visibilityTimeoutSeconds: 30, maxReceiveCount: 1 };
    const first = await openQueue(clock, settings);
    const a1 = await send(first, "a", "a1");
    await send(first, "a", "a2");
    await send(first, "b", "b1");
    await send(first, "c", "c1");
    const [received] = await first.receiveMessage();
    await first.deleteMessage(received?.ReceiptHandle ?? "");
    const inFlight = await first.receiveMessage({ maxMessages: 2 });
    expect(bodies(inFlight)).toEqual(["a:a2", "b:b1"]);
    clock.advance(30_000);
    expect(bodies(await first.receiveMessage({ maxMessages: 10 }))).toEqual(["c:c1"]);
    clock.advance(30_000);
    await first.receiveMessage({ maxMessages: 10 });
    const last = first.counts();
    expect(last).toMatchObject({ deadLettered: 3 });

    const second = await openQueue(clock, settings);

    expect(second.counts()).toEqual(last);
    expect(second.deadLetters()).toEqual(first.deadLetters());
    expect((await send(second, "a", "a1")).MessageId).toBe(a1.MessageId);
    const next = await send(second, "d", "d1");
    expect(BigInt(next.SequenceNumber)).toBeGreaterThan(BigInt(a1.SequenceNumber) + 3n);
  });

  it("keeps a receipt handle and its visibility across a reopen", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const first = await openQueue(clock, { dir, visibilityTimeoutSeconds: 30 });
    await send(first, "a", "a1");
    await send(first, "a", "a2");
    const [message] = await first.receiveMessage();

    const second = await openQueue(clock, { dir, visibilityTimeoutSeconds: 30 });

    expect(await second.receiveMessage()).toEqual([]);
    await second.deleteMessage(message?.ReceiptHandle ?? "");
    expect(bodies(await second.receiveMessage())).toEqual(["a:a2"]);
  });

  it("replays everything before a last line cut anywhere by a crash, and appends cleanly after the cut", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const first = await openQueue(clock, { dir });
    await send(first, "a", "a1");
    await send(first, "a", "a2");
    await first.close();
    const whole = readFileSync(journalPath(dir));
    const lastLineStart = whole.subarray(0, whole.length - 1).lastIndexOf("\n") + 1;

    for (const cut of [lastLineStart + 1, lastLineStart + 40, whole.length - 1]) {
      const copy = tempDir();
      writeFileSync(journalPath(copy), whole.subarray(0, cut));

      const reopened = await openQueue(clock, { dir: copy });
      expect(reopened.counts().visible).toBe(1);
      await send(reopened, "a", "a3");
      await reopened.close();

      const again = await openQueue(clock, { dir: copy });
      expect(bodies(await again.receiveMessage({ maxMessages: 10 }))).toEqual(["a:a1", "a:a3"]);
    }
  });

  it("refuses a journal damaged before its last line, naming the line", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const first = await openQueue(clock, { dir });
    await send(first, "a", "a1");
    await first.close();
    const lines = readFileSync(journalPath(dir), "utf8").split("\n");

    for (const damage of ['{"t":"send","m":', '{"t":"seq"}', '{"t":"unknown"}']) {
      writeFileSync(journalPath(dir), [lines[0], damage, ...lines.slice(1)].join("\n"));

      const error = await refusal(() => openQueue(clock, { dir }));

      expect(error.code).toBe("QueueUnavailable");
      expect(error.message).toContain("line 2");
    }
  });

  it("compacts a grown journal and keeps the queue, its deduplication window and its sequence", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const queue = await openQueue(clock, { dir, compactAfterBytes: 8 * 1024 });
    let last = await send(queue, "g", "first");
    for (let index = 0; index < 300; index += 1) {
      last = await send(queue, `g${index % 3}`, `m${index}`);
      const [message] = await queue.receiveMessage();
      await queue.deleteMessage(message?.ReceiptHandle ?? "");
      clock.advance(2_000);
    }
    const pending = await send(queue, "p", "pending");
    await queue.close();

    // Uncompacted, the 900 changes above take several times this.
    expect(statSync(journalPath(dir)).size).toBeLessThan(64 * 1024);
    const reopened = await openQueue(clock, { dir });
    expect(reopened.counts()).toMatchObject({ visible: 2, inFlight: 0, deadLettered: 0 });
    // m299 was sent within the last five minutes, m0 long before.
    expect((await send(reopened, "g", "m299")).MessageId).toBe(last.MessageId);
    expect((await send(reopened, "p", "pending")).MessageId).toBe(pending.MessageId);
    expect(reopened.counts().visible).toBe(2);
    await send(reopened, "g", "m0");
    expect(reopened.counts().visible).toBe(3);
    const after = await send(reopened, "g", "after");
    expect(BigInt(after.SequenceNumber)).toBeGreaterThan(BigInt(pending.SequenceNumber));
  });

  it("loses nothing acknowledged when its process is killed outright mid-burst", async () => {
    const dir = tempDir();
    const script = join(dir, "burst.mts");
    const module = fileURLToPath(new URL("../src/sqs-fifo-standin.ts", import.meta.url));
    writeFileSync(
      script,
      `import { openSqsFifoStandIn } from ${JSON.stringify(module)};
const queue = await openSqsFifoStandIn({ dir: ${JSON.stringify(dir)} });
let index = 0;
const worker = async () => {
  for (;;) {
    const name = "m" + index++;
    const sent = await queue.sendMessage({ MessageBody: name, MessageGroupId: name, MessageDeduplicationId: name });
    process.stdout.write("ack " + sent.MessageId + "\\n");
  }
};
for (let i = 0; i < 8; i += 1) void worker();
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise((done) => child.once("exit", done));
    const acknowledged: string[] = [];
    let output = "";
    await new Promise<void>((done) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8");
        const lines = output.split("\n");
        output = lines.pop() ?? "";
        for (const line of lines) if (line.startsWith("ack ")) acknowledged.push(line.slice(4));
        if (acknowledged.length >= 200 && child.exitCode === null && !child.killed) {
          child.kill("SIGKILL");
          done();
        }
      });
      child.once("exit", () => done());
    });
    await exited;
    expect(acknowledged.length).toBeGreaterThanOrEqual(200);

    // The child sent on the real clock; reading starts after its last send.
    const clock = new Clock();
    clock.ms = Date.now() + 1000;
    const queue = await openQueue(clock, { dir });
    const present = new Set<string>();
    for (;;) {
      const batch = await queue.receiveMessage({ maxMessages: 10 });
      if (batch.length === 0) break;
      for (const message of batch) present.add(message.MessageId);
    }

    expect(acknowledged.filter((id) => !present.has(id))).toEqual([]);
  });
});

describe("processBatch, as Lambda's event source mapping", () => {
  function recording(response: (event: SQSEvent) => SQSBatchResponse | void | Promise<SQSBatchResponse | void>) {
    const events: SQSEvent[] = [];
    const handler: SqsBatchHandler = (event) => {
      events.push(event);
      return response(event);
    };
    return { events, handler };
  }

  function idOf(event: SQSEvent | undefined, body: string): string {
    return event?.Records.find((record) => record.body === body)?.messageId ?? "";
  }

  it("hands the handler an SQS-shaped event and deletes every record when it succeeds", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { region: "eu-west-1", accountId: "123456789012" });
    const sent = await send(queue, "acct_1/cus_1", "evt_1", '{"v":1}');
    await send(queue, "cus_2", "evt_2");
    const { events, handler } = recording(() => undefined);

    const outcome = await queue.processBatch(handler);

    expect(outcome.deleted).toHaveLength(2);
    expect(queue.counts()).toMatchObject({ visible: 0, inFlight: 0 });
    expect(events[0]?.Records[0]).toEqual({
      messageId: sent.MessageId,
      receiptHandle: expect.any(String),
      body: '{"v":1}',
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(clock.ms),
        ApproximateFirstReceiveTimestamp: String(clock.ms),
        SenderId: "123456789012",
        SequenceNumber: sent.SequenceNumber,
        MessageGroupId: "acct_1/cus_1",
        MessageDeduplicationId: "evt_1",
      },
      messageAttributes: {},
      md5OfBody: createHash("md5").update('{"v":1}').digest("hex"),
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:stripe-events.fifo",
      awsRegion: "eu-west-1",
    });
  });

  it("deletes the records the response leaves out and keeps the listed ones until their visibility ends", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    for (const group of ["a", "b", "c"]) await send(queue, group, group);
    const { events, handler } = recording((event) => ({ batchItemFailures: [{ itemIdentifier: idOf(event, "b:b") }] }));

    const outcome = await queue.processBatch(handler);

    expect(outcome.failed).toEqual([idOf(events[0], "b:b")]);
    expect(outcome.deleted).toEqual([idOf(events[0], "a:a"), idOf(events[0], "c:c")]);
    expect(queue.counts()).toMatchObject({ visible: 0, inFlight: 1 });
    clock.advance(29_999);
    expect((await queue.processBatch(handler)).received).toEqual([]);
    clock.advance(1);
    await queue.processBatch(handler);
    expect(events[1]?.Records.map((record) => [record.body, record.attributes.ApproximateReceiveCount])).toEqual([["b:b", "2"]]);
  });

  it("keeps a group's order when the handler lists a failed record and every later one of its group", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    for (const name of ["a1", "a2", "a3"]) await send(queue, "a", name);
    let calls = 0;
    const { events, handler } = recording((event) => {
      calls += 1;
      if (calls > 1) return undefined;
      return { batchItemFailures: [{ itemIdentifier: idOf(event, "a:a2") }, { itemIdentifier: idOf(event, "a:a3") }] };
    });

    await queue.processBatch(handler);
    clock.advance(30_000);
    await queue.processBatch(handler);

    expect(events.map((event) => event.Records.map((record) => record.body))).toEqual([
      ["a:a1", "a:a2", "a:a3"],
      ["a:a2", "a:a3"],
    ]);
    expect(queue.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it("fails the whole batch when the handler throws or its response names a record not in the batch", async () => {
    const responses: Array<() => unknown> = [
      () => {
        throw new Error("handler failed");
      },
      () => ({ batchItemFailures: [{ itemIdentifier: "not-in-this-batch" }] }),
      () => ({ batchItemFailures: [{ itemIdentifier: "" }] }),
      () => ({ batchItemFailures: [{ id: "wrong key" }] }),
      () => ({ batchItemFailures: "all" }),
    ];
    for (const response of responses) {
      const clock = new Clock();
      const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
      await send(queue, "a", "a1");
      await send(queue, "b", "b1");
      const errors: unknown[] = [];

      const outcome = await queue.processBatch(response as unknown as SqsBatchHandler, { onError: (error) => errors.push(error) });

      expect(outcome.deleted).toEqual([]);
      expect(outcome.failed).toHaveLength(2);
      expect(errors).toHaveLength(1);
      clock.advance(30_000);
      expect((await queue.receiveMessage({ maxMessages: 10 })).map((message) => message.Attributes.ApproximateReceiveCount)).toEqual(["2", "2"]);
    }
  });

  it("counts an empty or absent failure list as a full success", async () => {
    for (const response of [undefined, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      const queue = await openQueue(new Clock());
      await send(queue, "a", "a1");

      const outcome = await queue.processBatch(() => response as unknown as SQSBatchResponse);

      expect(outcome.deleted).toHaveLength(1);
      expect(queue.counts().inFlight).toBe(0);
    }
  });

  it("lets the handler's own changeMessageVisibility decide when a failed record returns", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    await send(queue, "a", "a1");
    const handler: SqsBatchHandler = async (event) => {
      const record = event.Records[0];
      if (!record) return undefined;
      if (record.attributes.ApproximateReceiveCount !== "1") return undefined;
      await queue.changeMessageVisibility(record.receiptHandle, 120);
      return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
    };

    await queue.processBatch(handler);
    clock.advance(119_999);
    expect((await queue.processBatch(handler)).received).toEqual([]);
    clock.advance(1);
    expect((await queue.processBatch(handler)).deleted).toHaveLength(1);
  });

  it("leaves a record for redelivery when its run outlasted the visibility timeout, so its delete is refused", async () => {
    const clock = new Clock();
    const queue = await openQueue(clock, { visibilityTimeoutSeconds: 30 });
    await send(queue, "a", "a1");
    const errors: unknown[] = [];

    const outcome = await queue.processBatch(
      () => {
        clock.advance(30_000);
      },
      { onError: (error) => errors.push(error) },
    );

    expect(outcome.deleted).toEqual([]);
    expect(outcome.failed).toEqual(outcome.received);
    expect(errors).toMatchObject([{ code: "InvalidParameterValue" }]);
    expect((await queue.receiveMessage())[0]?.Attributes.ApproximateReceiveCount).toBe("2");
  });

  it("receives at most batchSize records, which may not exceed 10", async () => {
    const queue = await openQueue(new Clock());
    for (const group of ["a", "b", "c"]) await send(queue, group, group);

    expect((await queue.processBatch(() => undefined, { batchSize: 2 })).received).toHaveLength(2);
    await expectCode(() => queue.processBatch(() => undefined, { batchSize: 11 }), "InvalidParameterValue");
  });

  it("releases in-flight messages at once on request, keeping their receive counts", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const first = await openQueue(clock, { dir, visibilityTimeoutSeconds: 600 });
    await send(first, "a", "a1");
    await first.receiveMessage();

    const restarted = await openQueue(clock, { dir, visibilityTimeoutSeconds: 600 });
    expect(await restarted.releaseInFlight()).toBe(1);

    expect((await restarted.receiveMessage())[0]?.Attributes.ApproximateReceiveCount).toBe("2");
  });
});

describe("startPolling", () => {
  it("handles what is sent while it polls, and stop waits for the batch in progress", async () => {
    const queue = await openQueue(new Clock(), { dir: tempDir() });
    const invoked = deferred<string>();
    const gate = deferred();
    const handled: string[] = [];
    // A long idle wait: only the send's wake-up can start the batch within the test's time.
    const poller = queue.startPolling(
      async (event) => {
        const body = event.Records[0]?.body ?? "";
        handled.push(body);
        invoked.resolve(body);
        await gate.promise;
      },
      { batchSize: 1, idleWaitMs: 600_000 },
    );
    await settle();
    await send(queue, "a", "a1");
    expect(await invoked.promise).toBe("a:a1");

    let stopped = false;
    const stopping = poller.stop().then(() => (stopped = true));
    await send(queue, "b", "b1");
    await settle();
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;

    expect(handled).toEqual(["a:a1"]);
    expect(queue.counts()).toMatchObject({ visible: 1, inFlight: 0 });
  });

  it("runs up to maxConcurrency batches at once", async () => {
    const queue = await openQueue(new Clock(), { dir: tempDir() });
    await send(queue, "a", "a1");
    await send(queue, "b", "b1");
    const gate = deferred();
    const secondHandled = deferred();
    const poller = queue.startPolling(
      async (event) => {
        if (event.Records[0]?.body === "a:a1") await gate.promise;
        else secondHandled.resolve();
      },
      { batchSize: 1, maxConcurrency: 2, idleWaitMs: 600_000 },
    );

    // With one batch at a time, b1 would wait behind the blocked a1 and this would never resolve.
    await secondHandled.promise;
    gate.resolve();
    await poller.stop();
    expect(queue.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it("reports a handler that throws and carries on polling", async () => {
    const queue = await openQueue(new Clock(), { dir: tempDir() });
    await send(queue, "a", "a1");
    const errors: unknown[] = [];
    const done = deferred<string>();
    let calls = 0;
    const poller = queue.startPolling(
      async (event) => {
        calls += 1;
        const record = event.Records[0];
        if (calls === 1) {
          // Back to the queue at once, so the time this test's clock stands still does not matter.
          await queue.changeMessageVisibility(record?.receiptHandle ?? "", 0);
          throw new Error("first run failed");
        }
        done.resolve(record?.attributes.ApproximateReceiveCount ?? "");
      },
      { onError: (error) => errors.push(error), idleWaitMs: 600_000 },
    );

    expect(await done.promise).toBe("2");
    await poller.stop();
    expect(errors).toMatchObject([{ message: "first run failed" }]);
    expect(queue.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });
});

describe("close", () => {
  it("refuses calls once closed, and the journal keeps what was acknowledged", async () => {
    const clock = new Clock();
    const dir = tempDir();
    const queue = await openQueue(clock, { dir });
    await send(queue, "a", "a1");
    await queue.close();

    await expectCode(() => send(queue, "a", "a2"), "QueueUnavailable");
    expect((await openQueue(clock, { dir })).counts().visible).toBe(1);
  });
});
