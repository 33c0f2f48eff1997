import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { decodeQueueMessage } from "@stripe-webhooks/core/queue-message";

/*
 * A deployed stage's redrive (`npm run redrive` under `sst shell`): SQS's own move task from the
 * dead-letter queue back to the queue, which SQS serves for FIFO queues. The consumer sends
 * dead letters itself, so SQS does not know their source queue and the destination is always
 * named. Where SQS refuses the task (UnsupportedOperation), the messages are received, sent and
 * deleted one by one instead.
 */

/** The SQS calls redrive makes; an SQSClient, or a test's double. */
export interface SqsSend {
  send(command: object): Promise<unknown>;
}

/** What a stage's redrive did. */
export type SqsRedrive =
  /** SQS took a move task; it moves the messages in the background. */
  | { kind: "move-task"; taskHandle: string; sourceArn: string; destinationArn: string }
  /** Moved here, message by message. */
  | { kind: "moved"; moved: number; eventIds: string[] };

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

async function queueArn(client: SqsSend, url: string): Promise<string> {
  const output = (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))) as {
    Attributes?: Record<string, string>;
  };
  const arn = output.Attributes?.QueueArn;
  if (!arn) throw new Error(`SQS gave no ARN for the queue ${url}`);
  return arn;
}

/** The event id a queue message carries, or undefined when it is not one the webhook writes. */
export function eventIdOf(body: string): string | undefined {
  try {
    const decoded = decodeQueueMessage(body);
    return decoded.kind === "event" ? decoded.event.id : decoded.reference.id;
  } catch {
    return undefined;
  }
}

/**
 * Moves a stage's dead letters back to its queue: SQS's StartMessageMoveTask from the
 * dead-letter queue to the queue, or, where SQS answers UnsupportedOperation, ReceiveMessage,
 * SendMessage (same body and group; the dead letter's MessageId as the deduplication id, as SQS's
 * own move does, so the queue's five-minute window on the event id cannot drop it) and
 * DeleteMessage, one message at a time until a receive finds none. A failed send stops the run
 * with the message still in the dead-letter queue.
 */
export async function redriveStage(client: SqsSend, urls: { queueUrl: string; deadLetterUrl: string }): Promise<SqsRedrive> {
  const [sourceArn, destinationArn] = await Promise.all([queueArn(client, urls.deadLetterUrl), queueArn(client, urls.queueUrl)]);
  try {
    const output = (await client.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }))) as {
      TaskHandle?: string;
    };
    return { kind: "move-task", taskHandle: output.TaskHandle ?? "", sourceArn, destinationArn };
  } catch (error) {
    if (errorName(error) !== "UnsupportedOperation") throw error;
  }
  const eventIds: string[] = [];
  let moved = 0;
  for (;;) {
    const received = (await client.send(
      new ReceiveMessageCommand({
        QueueUrl: urls.deadLetterUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ["MessageGroupId"],
      }),
    )) as { Messages?: Array<{ MessageId?: string; ReceiptHandle?: string; Body?: string; Attributes?: Record<string, string> }> };
    const messages = received.Messages ?? [];
    if (messages.length === 0) return { kind: "moved", moved, eventIds };
    for (const message of messages) {
      const body = message.Body ?? "";
      const id = message.MessageId ?? "";
      await client.send(
        new SendMessageCommand({
          QueueUrl: urls.queueUrl,
          MessageBody: body,
          MessageGroupId: message.Attributes?.MessageGroupId ?? id,
          MessageDeduplicationId: id,
        }),
      );
      await client.send(new DeleteMessageCommand({ QueueUrl: urls.deadLetterUrl, ReceiptHandle: message.ReceiptHandle }));
      moved += 1;
      const eventId = eventIdOf(body);
      if (eventId) eventIds.push(eventId);
    }
  }
}

