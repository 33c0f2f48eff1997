import { encodeQueueMessage } from "@stripe-webhooks/core/queue-message";
import { buildEvent } from "@stripe-webhooks/stripe-fixtures/events";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { redriveStage, type SqsSend } from "../src/sqs-redrive.ts";

/*
 * A stage's redrive against a double of the five SQS calls it makes (the SDK's command objects,
 * answered by name): SQS's move task when SQS takes it, receive + send + delete when it answers
 * UnsupportedOperation. No SQS is reachable from here, so what SQS does with the task is not tested.
 */

const urls = {
  queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/app-WebhookQueue.fifo",
  deadLetterUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/app-WebhookDeadLetterQueue.fifo",
};
const arnOf = (url: string) => `arn:aws:sqs:us-east-1:123456789012:${url.split("/").pop() ?? ""}`;

interface Call {
  name: string;
  input: Record<string, unknown>;
}

class SqsDouble implements SqsSend {
  readonly calls: Call[] = [];
  deadLetters: Array<{ MessageId: string; ReceiptHandle: string; Body: string; Attributes: Record<string, string> }> = [];
  readonly sent: Record<string, unknown>[] = [];
  constructor(private readonly moveTask: "accepted" | "unsupported" | "denied") {}

  async send(command: object): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, "");
    const input = (command as { input: Record<string, unknown> }).input;
    this.calls.push({ name, input });
    const fail = (errorName: string) => Object.assign(new Error(`${errorName} from the double`), { name: errorName });
    switch (name) {
      case "GetQueueAttributes":
        return { Attributes: { QueueArn: arnOf(String(input.QueueUrl)) } };
      case "StartMessageMoveTask":
        if (this.moveTask === "unsupported") throw fail("UnsupportedOperation");
        if (this.moveTask === "denied") throw fail("AccessDenied");
        return { TaskHandle: "task-1" };
      case "ReceiveMessage":
        return { Messages: this.deadLetters.slice(0, Number(input.MaxNumberOfMessages)) };
      case "SendMessage":
        this.sent.push(input);
        return { MessageId: "new" };
      case "DeleteMessage":
        this.deadLetters = this.deadLetters.filter((letter) => letter.ReceiptHandle !== input.ReceiptHandle);
        return {};
      default:
        throw new Error(`unexpected call ${name}`);
    }
  }
}

function deadLetter(id: string, customer: string) {
  const event = buildEvent("invoice.paid", { object: { customer } }) as unknown as Stripe.Event;
  const message = encodeQueueMessage({ ...event, id });
  return { MessageId: `msg-${id}`, ReceiptHandle: `rh-${id}`, Body: message.input.MessageBody, Attributes: { MessageGroupId: message.input.MessageGroupId } };
}

describe("redriveStage", () => {
  it("starts SQS's move task from the dead-letter queue to the queue, named, and moves nothing itself", async () => {
    const sqs = new SqsDouble("accepted");
    sqs.deadLetters = [deadLetter("evt_A1", "cus_A")];

    const result = await redriveStage(sqs, urls);

    expect(result).toEqual({ kind: "move-task", taskHandle: "task-1", sourceArn: arnOf(urls.deadLetterUrl), destinationArn: arnOf(urls.queueUrl) });
    expect(sqs.calls.map((call) => call.name)).not.toContain("ReceiveMessage");
    expect(sqs.calls.find((call) => call.name === "StartMessageMoveTask")?.input).toEqual({
      SourceArn: arnOf(urls.deadLetterUrl),
      DestinationArn: arnOf(urls.queueUrl),
    });
  });

  it("where SQS refuses the task as unsupported, sends each dead letter back in its group, then deletes it", async () => {
    const sqs = new SqsDouble("unsupported");
    sqs.deadLetters = [deadLetter("evt_A1", "cus_A"), deadLetter("evt_B1", "cus_B")];
    const groups = sqs.deadLetters.map((letter) => letter.Attributes.MessageGroupId);

    const result = await redriveStage(sqs, urls);

    expect(result).toEqual({ kind: "moved", moved: 2, eventIds: ["evt_A1", "evt_B1"] });
    expect(sqs.deadLetters).toEqual([]);
    expect(sqs.sent.map((input) => [input.QueueUrl, input.MessageGroupId, input.MessageDeduplicationId])).toEqual([
      [urls.queueUrl, groups[0], "msg-evt_A1"],
      [urls.queueUrl, groups[1], "msg-evt_B1"],
    ]);
    // Each delete follows its send: a failure between them leaves a copy in both, never in neither.
    const order = sqs.calls.filter((call) => call.name === "SendMessage" || call.name === "DeleteMessage").map((call) => call.name);
    expect(order).toEqual(["SendMessage", "DeleteMessage", "SendMessage", "DeleteMessage"]);
  });

  it("passes any other refusal on and moves nothing", async () => {
    const sqs = new SqsDouble("denied");
    sqs.deadLetters = [deadLetter("evt_A1", "cus_A")];

    await expect(redriveStage(sqs, urls)).rejects.toMatchObject({ name: "AccessDenied" });
    expect(sqs.sent).toEqual([]);
    expect(sqs.deadLetters).toHaveLength(1);
  });
});
