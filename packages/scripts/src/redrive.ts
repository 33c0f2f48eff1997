import { existsSync } from "node:fs";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { Resource } from "sst";
import { parseCli, runMain, UsageError } from "./cli.ts";
import { lockDataDir, queueDataPath, readReceiverState, resolveDataDir } from "./data-dir.ts";
import { openSqsFifoStandIn } from "./sqs-fifo-standin.ts";
import { eventIdOf, redriveStage } from "./sqs-redrive.ts";
import { printable } from "./table.ts";

/*
 * `npm run redrive`: sends dead-lettered events back to the queue, once their cause is fixed.
 *
 * Locally it opens the stand-in's journal itself, and only with the data directory's lock: the
 * receiver holds that lock while it runs, so the tool asks for it to be stopped first. That is
 * the one design in which two processes can never write the journal at once, with nothing new
 * in the receiver (it answers 404 off the webhook path, and a watched request file would be a
 * second way in to guard); the redriven events run at the next `npm start`.
 *
 * Under `sst shell --stage <name>` it asks SQS to move them (sqs-redrive.ts).
 */

const usage = `Usage: npm run redrive -- [options]

Sends the events the queue consumer dead-lettered back to the queue, at the tail of their
customer's message group; fix what their last error says first (npm run events -- --dead-lettered).

Options:
  --data-dir DIR   the local receiver's data directory [DATA_DIR, default .data/local]; stop the
                   receiver first (Ctrl+C): the redriven events run when it starts again
  -h, --help
A deployed stage: npx sst shell --stage <name> -- npm run redrive (SQS's StartMessageMoveTask).`;

/** The stage's queue URLs when SST links are active (`sst shell`); undefined when they are not. */
function linkedQueues(): { queueUrl: string; deadLetterUrl: string; stage: string } | undefined {
  try {
    const access = Resource.QueueConsumerAccess;
    return { queueUrl: access.queueUrl, deadLetterUrl: access.url, stage: Resource.App.stage };
  } catch {
    // Resource throws for a link it does not have: not under `sst shell`, or an inline stage.
    return undefined;
  }
}

function listIds(ids: readonly string[]): string {
  return ids.length === 0 ? "" : `: ${ids.slice(0, 10).map(printable).join(", ")}${ids.length > 10 ? ", ..." : ""}`;
}

/**
 * Moves the local stand-in's dead letters back to its queue, holding the data directory's lock
 * while the journal is open. Refuses while a receiver runs on the directory.
 */
async function redriveLocal(dataDir: string): Promise<number> {
  const running = readReceiverState(dataDir);
  if (running) {
    throw new UsageError(
      `the receiver (pid ${running.pid}) is running on ${dataDir} and owns its queue: stop it (Ctrl+C), ` +
        "run npm run redrive, then npm start again (the redriven events run then)",
    );
  }
  const dir = queueDataPath(dataDir);
  if (!existsSync(join(dir, "stripe-events.fifo.journal"))) {
    console.log(`no local queue in ${dir}: nothing is dead-lettered (a receiver started with --inline or --memory keeps none there)`);
    return 0;
  }
  const lock = lockDataDir(dataDir, "npm run redrive");
  try {
    const queue = await openSqsFifoStandIn({ dir });
    try {
      const ids = queue.deadLetters().map((letter) => eventIdOf(letter.Body) ?? `(unreadable message ${letter.MessageId})`);
      const moved = await queue.redrive();
      console.log(
        moved === 0
          ? "the dead-letter queue is empty: nothing to redrive"
          : `moved ${moved} dead-lettered event(s) back to the queue${listIds(ids)}; they run when the receiver starts (npm start)`,
      );
      return 0;
    } finally {
      await queue.close();
    }
  } finally {
    lock.release();
  }
}

async function main(): Promise<number> {
  const parsed = parseCli({ options: { "data-dir": { type: "string" } }, allowPositionals: false, strict: true }, usage);
  if (!parsed) return 0;
  const linked = linkedQueues();
  if (!linked) return redriveLocal(resolveDataDir(parsed.values["data-dir"]));

  // The default credential chain and region, as `sst shell` sets them up for the stage.
  const client = new SQSClient({});
  try {
    const result = await redriveStage(client, linked);
    if (result.kind === "move-task") {
      console.log(
        `stage ${linked.stage}: SQS is moving the dead-letter queue's messages back to the queue (task ${printable(result.taskHandle)}); ` +
          "the consumer takes them as they arrive. Watch it with npm run events.",
      );
    } else {
      console.log(`stage ${linked.stage}: moved ${result.moved} dead-lettered message(s) back to the queue${listIds(result.eventIds)}`);
    }
    return 0;
  } finally {
    client.destroy();
  }
}

runMain(main);
