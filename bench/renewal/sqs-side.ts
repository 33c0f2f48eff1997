import { fileURLToPath } from "node:url";
import type { SQSRecord } from "aws-lambda";
import { queueVisibilityTimeoutSeconds } from "@stripe-webhooks/core/limits";
import type { QueueControl } from "../../packages/functions/src/queue-consumer-handler.ts";
import { standInQueueControl } from "../../packages/scripts/src/receiver/local-queue.ts";
import { openSqsFifoStandIn, type Poller, type SendMessageInput, type SqsFifoStandIn } from "../../packages/scripts/src/sqs-fifo-standin.ts";
import { forkServing, serve, type Child } from "../shared/ipc.ts";
import type { ConsumerSide, ConsumerSideOptions } from "./consumer-side.ts";
import { chargeTo, countSqs, newTallies, type Delivery } from "./counting.ts";

/*
 * SQS and Lambda's pollers in the renewal burst, in a process of their own as they are AWS's:
 * the SQS FIFO stand-in (no SQS emulator installs here) takes the webhook's sends, which arrive
 * over IPC charged to the delivery that made them, and its polling driver invokes the consumer's
 * instances (consumer-side.ts, a child of this process) with SQS-shaped Lambda events, at most
 * `maxConcurrency` batches at once. Every SQS request is counted here, at the stand-in's API.
 */

export interface SqsSideOptions extends ConsumerSideOptions {
  queueDir: string;
}

interface Running {
  standIn: SqsFifoStandIn;
  poller: Poller;
  consumers: Child<ConsumerSide>;
}

const tallies = newTallies();
let running: Running | undefined;
let processedSoFar = 0;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function started(): Running {
  if (!running) throw new Error("the SQS side was not started");
  return running;
}

/** The consumer's queue control, served to the consumer side. */
function controlCalls(control: QueueControl) {
  return {
    changeVisibility: (input: { record: SQSRecord; seconds: number }) => control.changeVisibility(input.record, input.seconds),
    deadLetter: (input: { record: SQSRecord }) => control.deadLetter(input.record),
  };
}

export type ControlCalls = ReturnType<typeof controlCalls>;

async function start(options: SqsSideOptions): Promise<void> {
  const standIn = await openSqsFifoStandIn({ dir: options.queueDir, visibilityTimeoutSeconds: queueVisibilityTimeoutSeconds(options.consumerTimeoutSeconds) });
  countSqs(standIn, tallies);
  const consumers = forkServing<ConsumerSide>(fileURLToPath(new URL("./consumer-side.ts", import.meta.url)), "the renewal bench's consumers", controlCalls(standInQueueControl(standIn)));
  const { queueDir: _, ...consumerOptions } = options;
  await consumers.call("start", consumerOptions);
  // Lambda's pollers long-poll, so a message that becomes visible is taken at once; the
  // stand-in's driver looks again after this wait instead.
  const poller = standIn.startPolling(
    async (event, context) => {
      const { response, processed } = await consumers.call("invoke", { event, requestId: context.awsRequestId });
      processedSoFar = Math.max(processedSoFar, processed);
      return response;
    },
    { maxConcurrency: options.maxConcurrency, idleWaitMs: 50, onError: () => undefined },
  );
  running = { standIn, poller, consumers };
}

const calls = {
  start,
  async send(input: { kind: Delivery; message: SendMessageInput }) {
    const { standIn } = started();
    await chargeTo(input.kind, () => standIn.sendMessage(input.message));
  },
  /** Waits until the consumers processed `expected` events (or the timeout), then stops and reports. */
  async drain(input: { expected: number; timeoutMs: number }) {
    const { standIn, poller, consumers } = started();
    const deadline = performance.now() + input.timeoutMs;
    while (processedSoFar < input.expected && performance.now() < deadline) await sleep(10);
    await poller.stop();
    await standIn.close();
    const report = await consumers.call("report", undefined);
    await consumers.stop();
    running = undefined;
    return { ...report, sqs: tallies.sqs };
  },
};

export type SqsSide = typeof calls;

serve(calls);
