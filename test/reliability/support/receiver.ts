import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { testAwsEnvironment } from "@stripe-webhooks/testing/engines";
import { startReceiver, stopReceiver, tempDataDir, type Receiver } from "../../../packages/scripts/test/helpers/processes.ts";

/*
 * The real `npm start` (the scripts package's e2e helper: its own process group, random port,
 * temporary data directory, in-memory dynalite), with --verbose so the handlers' INFO lines,
 * the side effects counted over HTTP, come through.
 */

const requestLine = /^\d\d:\d\d:\d\d [A-Z]+ \/\S* \d{3} /gm;
const pipelineMessages = new Set(["Stripe webhook handled", "Stripe webhook refused", "Stripe webhook failed"]);

export interface LocalReceiver {
  receiver: Receiver;
  url: string;
  table: string;
  client: DynamoDBClient;
  /** Everything printed after the ready line (the banner shows the local secret on purpose). */
  outputAfterReady(): string;
  /** Handler log lines (JSON lines with an eventId that are not the pipeline's own summary). */
  handlerRuns(): number;
  /** Waits until the receiver has printed a request line for `count` requests in all. */
  settled(count: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalReceiver(secrets: readonly string[]): Promise<LocalReceiver> {
  const data = tempDataDir();
  let receiver: Receiver;
  try {
    receiver = await startReceiver({ DATA_DIR: data.dir, PORT: "0", STRIPE_WEBHOOK_SECRET: secrets.join(",") }, ["--memory", "--verbose"]);
  } catch (error) {
    data.remove();
    throw error;
  }
  const readyAt = receiver.output().search(/^ready url=/m);
  const table = /^ready .* table=(\S+)/m.exec(receiver.output())?.[1] ?? "";
  const client = new DynamoDBClient({
    endpoint: receiver.dynamodbEndpoint,
    region: testAwsEnvironment.AWS_REGION,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const outputAfterReady = () => receiver.output().slice(readyAt);
  return {
    receiver,
    url: receiver.url,
    table,
    client,
    outputAfterReady,
    handlerRuns: () => {
      let runs = 0;
      for (const line of outputAfterReady().split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const log = JSON.parse(line) as { eventId?: unknown; message?: unknown };
          const summary = typeof log.message === "string" && (pipelineMessages.has(log.message) || log.message.startsWith("Misconfiguration"));
          if (typeof log.eventId === "string" && !summary) runs += 1;
        } catch {
          // Not a JSON log line.
        }
      }
      return runs;
    },
    settled: async (count) => {
      const deadline = Date.now() + 10_000;
      while ((outputAfterReady().match(requestLine) ?? []).length < count) {
        if (Date.now() > deadline) throw new Error(`the receiver logged fewer than ${count} requests:\n${outputAfterReady().slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    stop: async () => {
      client.destroy();
      await stopReceiver(receiver);
      data.remove();
    },
  };
}
