import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { QueueSender } from "@stripe-webhooks/core/enqueue";
import type { SQSRecord } from "aws-lambda";
import { deadLetterCopy, type QueueControl } from "./queue-consumer-handler.ts";

/*
 * The stage's SQS queues behind core's two small interfaces: the webhook's and the reconciler's
 * send, and the consumer's visibility change and dead-letter send. The URLs are read on first
 * use, like every link.
 */

/**
 * Sends core's encoded messages to the queue at `url()`, with a client created on the first send:
 * an inline stage, which never sends, loads no SQS client.
 */
export function sqsQueueSender(url: () => string): QueueSender {
  let client: SQSClient | undefined;
  return {
    async send(message) {
      client ??= new SQSClient({});
      await client.send(new SendMessageCommand({ QueueUrl: url(), ...message.input }));
    },
  };
}

/** The consumer's calls on the queue (`queueUrl()`) and its dead-letter queue (`deadLetterUrl()`). */
export function sqsQueueControl(client: SQSClient, urls: () => { queueUrl: string; deadLetterUrl: string }): QueueControl {
  return {
    async changeVisibility(record: SQSRecord, seconds: number) {
      await client.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: urls().queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: seconds }),
      );
    },
    async deadLetter(record: SQSRecord) {
      await client.send(new SendMessageCommand({ QueueUrl: urls().deadLetterUrl, ...deadLetterCopy(record) }));
    },
  };
}
