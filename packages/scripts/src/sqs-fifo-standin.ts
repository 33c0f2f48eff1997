import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdir, open, readFile, rename, rm, truncate, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { errorSummary } from "@stripe-webhooks/core/errors";
import { lambdaContext } from "./lambda-context.ts";

/*
 * A STAND-IN for an SQS FIFO queue and its dead-letter queue, living in the local receiver's
 * process. It exists because no SQS emulator installs from the package registries this project
 * can reach (ElasticMQ and LocalStack are JVM or container images), and the consumer deployed on
 * Lambda is driven here through the same adapter: `startPolling` hands the consumer's handler the
 * SQS-shaped Lambda events and honours its partial batch response the way Lambda's event source
 * mapping does.
 *
 * It keeps the semantics the consumer relies on, and no others: order within a message group,
 * and a group held back while one of its messages is in flight; the five-minute deduplication
 * window; the visibility timeout; ApproximateReceiveCount and the move to the dead-letter queue
 * once a message has been received maxReceiveCount times; receipt handles that go stale; redrive.
 * Not kept: retention (nothing expires locally), message attributes, per-message delays (FIFO
 * queues have none), long polling (the driver waits for a send instead), and throughput limits.
 *
 * Durability: every change is a line in an append-only journal, fsynced before the call that made
 * it resolves, so an acknowledged send survives kill -9. Opening replays the journal; a last line
 * cut by a crash was never acknowledged and is dropped. When the journal has grown to twice what
 * the queue's state needs, it is rewritten as a snapshot beside it and renamed over it.
 */

/** How long SQS remembers a MessageDeduplicationId after the send that used it. */
export const deduplicationWindowMs = 5 * 60 * 1000;
/** SQS's longest visibility timeout, in seconds (12 hours). */
export const maxVisibilityTimeoutSeconds = 12 * 60 * 60;
/** SQS's largest receive, and so Lambda's largest batch from a FIFO queue. */
export const maxBatchSize = 10;
/** SQS's largest message body, in bytes (1 MiB). */
export const maxMessageBytesLimit = 1024 * 1024;

const journalVersion = 1;
// SQS's rule for group and deduplication ids: 1 to 128 printable ASCII characters.
const sqsIdPattern = /^[\x21-\x7e]{1,128}$/;
// The characters SQS accepts in a body (XML's character set).
const forbiddenBodyCharacter = /[^\t\n\r\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/** The SQS error code a refused call carries, as the SDK's error `name` would. */
export type SqsStandInErrorCode =
  | "MissingParameter"
  | "InvalidParameterValue"
  | "InvalidMessageContents"
  | "InvalidAttributeValue"
  | "ReceiptHandleIsInvalid"
  | "MessageNotInflight"
  /** The stand-in is closed, or its journal cannot be written or read. */
  | "QueueUnavailable";

/**
 * A call the stand-in refused, named by SQS's error code (the SDK's errors carry the same code as
 * their `name`), so one adapter handles both. Messages never quote a message body.
 */
export class SqsStandInError extends Error {
  readonly code: SqsStandInErrorCode;

  constructor(code: SqsStandInErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = code;
    this.code = code;
  }
}

export interface SqsFifoStandInOptions {
  /** The directory the journal lives in, e.g. a folder of the receiver's data directory. */
  dir: string;
  /** Ends with `.fifo`; names the journal file and the queue's ARN. Default `stripe-events.fifo`. */
  queueName?: string;
  /** Default 30 s, as SQS's. */
  visibilityTimeoutSeconds?: number;
  /** Receives after which the next receive moves a message to the dead-letter queue. Default 5. */
  maxReceiveCount?: number;
  /** The queue's delivery delay for new messages, 0 to 900 s. Default 0. */
  delaySeconds?: number;
  /** The queue's MaximumMessageSize, 1 KiB to 1 MiB. Default 1 MiB. */
  maxMessageBytes?: number;
  /** The current time in epoch milliseconds; injectable so tests move time without waiting. */
  now?: () => number;
  /** The journal size from which it may be compacted. Default 4 MiB. */
  compactAfterBytes?: number;
  region?: string;
  accountId?: string;
}

export interface SendMessageInput {
  MessageBody: string;
  MessageGroupId: string;
  MessageDeduplicationId: string;
}

export interface SendMessageOutput {
  MessageId: string;
  SequenceNumber: string;
  MD5OfMessageBody: string;
}

export interface ReceivedMessage {
  MessageId: string;
  ReceiptHandle: string;
  Body: string;
  MD5OfBody: string;
  Attributes: {
    ApproximateReceiveCount: string;
    SentTimestamp: string;
    ApproximateFirstReceiveTimestamp: string;
    SenderId: string;
    SequenceNumber: string;
    MessageGroupId: string;
    MessageDeduplicationId: string;
  };
}

export interface ReceiveOptions {
  /** 1 to 10, default 1. */
  maxMessages?: number;
  /** Overrides the queue's visibility timeout for this receive, 0 to 12 hours. */
  visibilityTimeoutSeconds?: number;
}

export interface DeleteBatchOutput {
  Successful: string[];
  Failed: Array<{ ReceiptHandle: string; Code: SqsStandInErrorCode; Message: string }>;
}

/** What CloudWatch would show for the queue and its dead-letter queue. */
export interface QueueCounts {
  /** Available to a receive now (ApproximateNumberOfMessagesVisible). */
  visible: number;
  /** Received and neither deleted nor visible again (ApproximateNumberOfMessagesNotVisible). */
  inFlight: number;
  /** Sent and not yet past the queue's delay (ApproximateNumberOfMessagesDelayed). */
  delayed: number;
  /** In the dead-letter queue. */
  deadLettered: number;
  /** Seconds since the oldest message in the queue was sent, 0 when empty (ApproximateAgeOfOldestMessage). */
  oldestMessageAgeSeconds: number;
}

export interface DeadLetter {
  MessageId: string;
  Body: string;
  MessageGroupId: string;
  MessageDeduplicationId: string;
  SentTimestamp: number;
  ReceiveCount: number;
  DeadLetteredAt: number;
}

/** A Lambda-style SQS handler, as the consumer's entry exports it. */
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void> | SQSBatchResponse | void;

export interface BatchOptions {
  /** Messages per invocation, 1 to 10 (Lambda's limit for FIFO queues). Default 10. */
  batchSize?: number;
  /** The invocation context for a request id; default a local context as the receiver builds. */
  context?: (requestId: string) => Context;
  /** Told of a handler that threw, an invalid batch response, or a delete SQS refused. */
  onError?: (error: unknown) => void;
}

export interface PollingOptions extends BatchOptions {
  /** Batches in progress at once, as the event source mapping's maximum concurrency. Default 1. */
  maxConcurrency?: number;
  /** How long an idle poller waits before looking again when no send wakes it. Default 1 s. */
  idleWaitMs?: number;
}

/** What one batch came to. */
export interface BatchOutcome {
  /** Message ids handed to the handler, in batch order. */
  received: string[];
  /** Deleted after the handler succeeded for them. */
  deleted: string[];
  /** Left in flight until their visibility timeout: reported failed, or the whole batch failed. */
  failed: string[];
}

export interface Poller {
  /** Stops receiving; resolves once every batch in progress has finished and been acknowledged. */
  stop(): Promise<void>;
}

interface StoredMessage {
  id: string;
  body: string;
  md5: string;
  group: string;
  dedup: string;
  /** A 20-digit decimal string, increasing across the queue, as SQS's. */
  seq: string;
  sentAt: number;
  /** When a receive may next return it: after the queue's delay, or its visibility timeout. */
  availableAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The latest receipt handle; only it may delete the message, and only while in flight. */
  receipt?: string;
  deadLetteredAt?: number;
}

interface DedupEntry {
  id: string;
  seq: string;
  expiresAt: number;
}

type QueueName = "source" | "dlq";

type JournalRecord =
  | { t: "header"; v: number }
  | { t: "seq"; n: string }
  | { t: "send"; m: StoredMessage }
  | { t: "put"; q: QueueName; m: StoredMessage }
  | { t: "dedup"; k: string; id: string; seq: string; x: number }
  | { t: "receive"; id: string; n: number; r: string; a: number; f: number }
  | { t: "visibility"; id: string; a: number }
  | { t: "delete"; id: string }
  | { t: "dead"; id: string; at: number }
  | { t: "redrive"; id: string; seq: string; at: number };

const recordTypes = new Set<string>(["header", "seq", "send", "put", "dedup", "receive", "visibility", "delete", "dead", "redrive"]);

/**
 * Opens the stand-in queue whose journal is in `options.dir` (created when missing), replaying
 * what an earlier run left. Throws {@link SqsStandInError} `InvalidAttributeValue` for a setting
 * out of SQS's range, and `QueueUnavailable` for a journal it cannot read.
 */
export async function openSqsFifoStandIn(options: SqsFifoStandInOptions): Promise<SqsFifoStandIn> {
  const settings = resolveSettings(options);
  await mkdir(options.dir, { recursive: true });
  const path = join(options.dir, `${settings.queueName}.journal`);
  const state = new QueueState();
  const { validBytes, fileBytes } = await replay(path, state);
  if (validBytes < fileBytes) await truncate(path, validBytes);
  // A rewrite cut short by a crash leaves its temporary file; the journal itself is whole.
  await rm(`${path}.compact`, { force: true });
  const journal = await Journal.open(path, options.dir, validBytes, settings.compactAfterBytes, () => {
    state.pruneDedup(settings.now());
    return state.snapshot();
  });
  return new SqsFifoStandIn(settings, state, journal);
}

interface Settings {
  queueName: string;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  delaySeconds: number;
  maxMessageBytes: number;
  now: () => number;
  compactAfterBytes: number;
  region: string;
  accountId: string;
}

function resolveSettings(options: SqsFifoStandInOptions): Settings {
  const queueName = options.queueName ?? "stripe-events.fifo";
  if (!/^[A-Za-z0-9_-]{1,75}\.fifo$/.test(queueName)) {
    throw new SqsStandInError("InvalidAttributeValue", "A FIFO queue's name is 1 to 75 letters, digits, hyphens or underscores, then .fifo.");
  }
  const whole = (name: string, value: number, min: number, max: number): number => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new SqsStandInError("InvalidAttributeValue", `${name} must be a whole number from ${min} to ${max}.`);
    }
    return value;
  };
  return {
    queueName,
    visibilityTimeoutSeconds: whole("visibilityTimeoutSeconds", options.visibilityTimeoutSeconds ?? 30, 0, maxVisibilityTimeoutSeconds),
    maxReceiveCount: whole("maxReceiveCount", options.maxReceiveCount ?? 5, 1, 1000),
    delaySeconds: whole("delaySeconds", options.delaySeconds ?? 0, 0, 900),
    maxMessageBytes: whole("maxMessageBytes", options.maxMessageBytes ?? maxMessageBytesLimit, 1024, maxMessageBytesLimit),
    now: options.now ?? Date.now,
    compactAfterBytes: whole("compactAfterBytes", options.compactAfterBytes ?? 4 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    region: options.region ?? "us-east-1",
    accountId: options.accountId ?? "000000000000",
  };
}

/**
 * The queue's contents. Every change goes through `apply`, live and on replay alike, so the
 * journal's records rebuild exactly the state the live calls made. Records set values rather
 * than increment them, so applying one twice changes nothing.
 */
class QueueState {
  /** In sequence order: a message enters at the tail, on its send or its redrive. */
  readonly source = new Map<string, StoredMessage>();
  /** In the order messages were dead-lettered. */
  readonly dlq = new Map<string, StoredMessage>();
  /** In send order, so expired entries are at the front. */
  readonly dedup = new Map<string, DedupEntry>();
  lastSeq = 0n;

  apply(record: JournalRecord): void {
    switch (record.t) {
      case "header":
        if (record.v !== journalVersion) {
          throw new SqsStandInError("QueueUnavailable", `The queue journal has version ${record.v}; this stand-in reads version ${journalVersion}.`);
        }
        return;
      case "seq":
        this.noteSeq(record.n);
        return;
      case "send": {
        const { m } = record;
        this.noteSeq(m.seq);
        this.dedup.delete(m.dedup);
        this.dedup.set(m.dedup, { id: m.id, seq: m.seq, expiresAt: m.sentAt + deduplicationWindowMs });
        if (!this.source.has(m.id) && !this.dlq.has(m.id)) this.source.set(m.id, { ...m });
        return;
      }
      case "put":
        this.noteSeq(record.m.seq);
        (record.q === "source" ? this.source : this.dlq).set(record.m.id, { ...record.m });
        return;
      case "dedup":
        this.dedup.set(record.k, { id: record.id, seq: record.seq, expiresAt: record.x });
        return;
      case "receive": {
        const message = this.source.get(record.id);
        if (!message) return;
        message.receiveCount = record.n;
        message.receipt = record.r;
        message.availableAt = record.a;
        message.firstReceivedAt ??= record.f;
        return;
      }
      case "visibility": {
        const message = this.source.get(record.id);
        if (message) message.availableAt = record.a;
        return;
      }
      case "delete":
        this.source.delete(record.id);
        return;
      case "dead": {
        const message = this.source.get(record.id);
        if (!message) return;
        this.source.delete(record.id);
        delete message.receipt;
        message.deadLetteredAt = record.at;
        this.dlq.set(record.id, message);
        return;
      }
      case "redrive": {
        const message = this.dlq.get(record.id);
        if (!message) return;
        this.dlq.delete(record.id);
        this.noteSeq(record.seq);
        // Back at the tail of its group with a fresh count, as if sent again.
        const redriven: StoredMessage = { ...message, seq: record.seq, availableAt: record.at, receiveCount: 0 };
        delete redriven.receipt;
        delete redriven.firstReceivedAt;
        delete redriven.deadLetteredAt;
        this.source.set(record.id, redriven);
        return;
      }
    }
  }

  /** Forgets deduplication ids whose window has ended; entries are in send order. */
  pruneDedup(now: number): void {
    for (const [key, entry] of this.dedup) {
      if (entry.expiresAt > now) return;
      this.dedup.delete(key);
    }
  }

  nextSeq(): string {
    return (this.lastSeq + 1n).toString().padStart(20, "0");
  }

  /** The records that rebuild this state, for compaction. Dedup entries are kept as they are. */
  snapshot(): JournalRecord[] {
    return [
      { t: "header", v: journalVersion },
      { t: "seq", n: this.lastSeq.toString().padStart(20, "0") },
      ...[...this.source.values()].map((m): JournalRecord => ({ t: "put", q: "source", m })),
      ...[...this.dlq.values()].map((m): JournalRecord => ({ t: "put", q: "dlq", m })),
      ...[...this.dedup].map(([k, entry]): JournalRecord => ({ t: "dedup", k, id: entry.id, seq: entry.seq, x: entry.expiresAt })),
    ];
  }

  private noteSeq(seq: string): void {
    const value = BigInt(seq);
    if (value > this.lastSeq) this.lastSeq = value;
  }
}

/** Replays the journal into `state`; the bytes up to the last whole line are what counts. */
async function replay(path: string, state: QueueState): Promise<{ validBytes: number; fileBytes: number }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { validBytes: 0, fileBytes: 0 };
    throw new SqsStandInError("QueueUnavailable", `The queue journal ${path} cannot be read.`, { cause: error });
  }
  // Lines are written whole with their newline: anything after the last newline is a write a
  // crash cut short, which no caller was told had succeeded.
  const whole = text.slice(0, text.lastIndexOf("\n") + 1);
  const lines = whole.split("\n").slice(0, -1);
  lines.forEach((line, index) => {
    const damaged = (cause?: unknown) =>
      new SqsStandInError(
        "QueueUnavailable",
        `The queue journal ${path} is damaged at line ${index + 1} (not a crash's cut, which only affects the last line): move it aside to start with an empty queue.`,
        cause === undefined ? undefined : { cause },
      );
    const record = parseRecord(line);
    if (!record || (index === 0 && record.t !== "header")) throw damaged();
    try {
      state.apply(record);
    } catch (error) {
      // A record of a known kind with fields missing or of the wrong type.
      throw error instanceof SqsStandInError ? error : damaged(error);
    }
  });
  return { validBytes: Buffer.byteLength(whole, "utf8"), fileBytes: Buffer.byteLength(text, "utf8") };
}

function parseRecord(line: string): JournalRecord | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== "object" || value === null || !("t" in value) || typeof value.t !== "string") return undefined;
    return recordTypes.has(value.t) ? (value as JournalRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The append-only journal, with group commit: records appended while a write is in progress go
 * out together in the next write and fsync, and each append resolves once its records are on
 * disk. Compaction runs between writes, when nothing is pending, so the snapshot it takes is
 * exactly what the file holds.
 */
class Journal {
  private buffer = "";
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  // Set and cleared synchronously with the checks of `waiters`, so no append is ever left unwritten.
  private running = false;
  private runner: Promise<void> = Promise.resolve();
  private broken: Error | undefined;
  /** The size the last compaction (or the opening) left: the next is due at twice it. */
  private baseBytes: number;

  private constructor(
    private handle: FileHandle,
    private readonly path: string,
    private readonly dir: string,
    private bytes: number,
    private readonly compactAfterBytes: number,
    private readonly snapshot: () => JournalRecord[],
  ) {
    this.baseBytes = bytes;
  }

  static async open(
    path: string,
    dir: string,
    bytes: number,
    compactAfterBytes: number,
    snapshot: () => JournalRecord[],
  ): Promise<Journal> {
    const handle = await open(path, "a");
    const journal = new Journal(handle, path, dir, bytes, compactAfterBytes, snapshot);
    if (bytes === 0) {
      await journal.append([{ t: "header", v: journalVersion }]);
      await syncDirectory(dir);
    }
    if (journal.compactionDue()) await journal.compact();
    return journal;
  }

  append(records: readonly JournalRecord[]): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    this.buffer += records.map((record) => `${JSON.stringify(record)}\n`).join("");
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.running) {
      this.running = true;
      this.runner = this.run();
    }
    return done;
  }

  /** Resolves once everything appended so far is on disk. */
  sync(): Promise<void> {
    return this.append([]);
  }

  async close(): Promise<void> {
    await this.sync().catch(() => undefined);
    // A compaction may follow the last write; the handle it reopens must be the one closed.
    await this.runner;
    this.broken ??= new SqsStandInError("QueueUnavailable", "The queue stand-in is closed.");
    await this.handle.close();
  }

  private async run(): Promise<void> {
    while (this.waiters.length > 0) {
      const chunk = this.buffer;
      const waiters = this.waiters;
      this.buffer = "";
      this.waiters = [];
      try {
        if (chunk !== "") {
          await this.handle.appendFile(chunk, "utf8");
          await this.handle.sync();
          this.bytes += Buffer.byteLength(chunk, "utf8");
        }
      } catch (error) {
        this.fail(new SqsStandInError("QueueUnavailable", `The queue journal ${this.path} cannot be written.`, { cause: error }), waiters);
        break;
      }
      for (const waiter of waiters) waiter.resolve();
      if (this.waiters.length === 0 && this.compactionDue()) await this.compact();
    }
    this.running = false;
  }

  private compactionDue(): boolean {
    return this.bytes >= this.compactAfterBytes && this.bytes >= 2 * this.baseBytes;
  }

  private async compact(): Promise<void> {
    const text = this.snapshot()
      .map((record) => `${JSON.stringify(record)}\n`)
      .join("");
    const temporary = `${this.path}.compact`;
    try {
      const handle = await open(temporary, "w");
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
    } catch {
      // The journal is untouched: keep appending to it, and try again once it has doubled.
      await rm(temporary, { force: true }).catch(() => undefined);
      this.baseBytes = this.bytes;
      return;
    }
    try {
      await syncDirectory(this.dir);
      await this.handle.close();
      this.handle = await open(this.path, "a");
      this.bytes = Buffer.byteLength(text, "utf8");
      this.baseBytes = this.bytes;
    } catch (error) {
      this.fail(new SqsStandInError("QueueUnavailable", `The queue journal ${this.path} cannot be reopened after compaction.`, { cause: error }), []);
    }
  }

  private fail(error: Error, waiters: Array<{ reject: (error: Error) => void }>): void {
    this.broken = error;
    for (const waiter of [...waiters, ...this.waiters]) waiter.reject(error);
    this.waiters = [];
    this.buffer = "";
  }
}

// A renamed or created file's directory entry is durable only once the directory is synced.
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms cannot open or sync a directory; the rename itself is still atomic there.
  }
}

/**
 * The stand-in queue: SQS's calls by their API names (`sendMessage`, `receiveMessage`,
 * `deleteMessage`, ...), the dead-letter queue's contents and redrive, CloudWatch's counts, and
 * a driver that feeds a Lambda-style handler. Open it with {@link openSqsFifoStandIn}.
 */
export class SqsFifoStandIn {
  /** The queue's ARN, as `eventSourceARN` carries it. */
  readonly arn: string;
  readonly deadLetterArn: string;
  private readonly wakers = new Set<() => void>();
  private readonly pollers = new Set<Poller>();
  private closed = false;

  constructor(
    private readonly settings: Settings,
    private readonly state: QueueState,
    private readonly journal: Journal,
  ) {
    const base = `arn:aws:sqs:${settings.region}:${settings.accountId}:`;
    this.arn = `${base}${settings.queueName}`;
    this.deadLetterArn = `${base}${settings.queueName.replace(/\.fifo$/, "-dlq.fifo")}`;
  }

  /**
   * Queues a message at the tail of its group, or, when its MessageDeduplicationId was used
   * within the last five minutes, accepts it without queueing and answers the original's
   * MessageId, as SQS does. Resolves once the message is on disk.
   */
  async sendMessage(input: SendMessageInput): Promise<SendMessageOutput> {
    this.assertOpen();
    validateSend(input, this.settings.maxMessageBytes);
    const now = this.settings.now();
    const md5 = md5Hex(input.MessageBody);
    this.state.pruneDedup(now);
    const original = this.state.dedup.get(input.MessageDeduplicationId);
    if (original && original.expiresAt > now) {
      // The original may still be on its way to disk: answer only once it is there.
      await this.journal.sync();
      return { MessageId: original.id, SequenceNumber: original.seq, MD5OfMessageBody: md5 };
    }
    const message: StoredMessage = {
      id: randomUUID(),
      body: input.MessageBody,
      md5,
      group: input.MessageGroupId,
      dedup: input.MessageDeduplicationId,
      seq: this.state.nextSeq(),
      sentAt: now,
      availableAt: now + this.settings.delaySeconds * 1000,
      receiveCount: 0,
    };
    await this.commit([{ t: "send", m: message }]);
    this.wake();
    return { MessageId: message.id, SequenceNumber: message.seq, MD5OfMessageBody: md5 };
  }

  /**
   * Receives up to `maxMessages` visible messages, making them invisible for the visibility
   * timeout. A group with a message in flight gives nothing; an available group gives its
   * messages in order, as many as fit, the group with the oldest message first. A message
   * already received maxReceiveCount times moves to the dead-letter queue instead, and the rest
   * of its group moves up.
   */
  async receiveMessage(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const maxMessages = options.maxMessages ?? 1;
    if (!Number.isInteger(maxMessages) || maxMessages < 1 || maxMessages > maxBatchSize) {
      throw new SqsStandInError("InvalidParameterValue", `MaxNumberOfMessages must be a whole number from 1 to ${maxBatchSize}.`);
    }
    const visibility = options.visibilityTimeoutSeconds ?? this.settings.visibilityTimeoutSeconds;
    checkVisibility(visibility);
    const now = this.settings.now();

    const records: JournalRecord[] = [];
    const picked: StoredMessage[] = [];
    for (const group of this.availableGroups(now)) {
      for (const message of group) {
        if (picked.length === maxMessages) break;
        if (message.availableAt > now) break;
        if (message.receiveCount >= this.settings.maxReceiveCount) {
          records.push({ t: "dead", id: message.id, at: now });
          continue;
        }
        const count = message.receiveCount + 1;
        records.push({ t: "receive", id: message.id, n: count, r: receiptHandle(message.id, count), a: now + visibility * 1000, f: now });
        picked.push(message);
      }
      if (picked.length === maxMessages) break;
    }
    if (records.length === 0) return [];
    await this.commit(records);
    return picked.map((message) => this.received(message));
  }

  /**
   * Deletes a received message by its latest receipt handle while it is in flight. Refuses, as
   * SQS does for a FIFO queue, a handle that is not one (`ReceiptHandleIsInvalid`) and one that
   * has gone stale (`InvalidParameterValue`): the message was received again, became visible
   * again, or is gone.
   */
  async deleteMessage(receiptHandle: string): Promise<void> {
    const output = await this.deleteMessageBatch([receiptHandle]);
    const failure = output.Failed[0];
    if (failure) throw new SqsStandInError(failure.Code, failure.Message);
  }

  /** Deletes several received messages with one write, reporting each handle's result as SQS's batch call does. */
  async deleteMessageBatch(receiptHandles: readonly string[]): Promise<DeleteBatchOutput> {
    this.assertOpen();
    const now = this.settings.now();
    const output: DeleteBatchOutput = { Successful: [], Failed: [] };
    const records: JournalRecord[] = [];
    for (const handle of receiptHandles) {
      try {
        const message = this.inFlightMessage(handle, now, "InvalidParameterValue");
        records.push({ t: "delete", id: message.id });
        output.Successful.push(handle);
      } catch (error) {
        if (!(error instanceof SqsStandInError)) throw error;
        output.Failed.push({ ReceiptHandle: handle, Code: error.code, Message: error.message });
      }
    }
    if (records.length > 0) await this.commit(records);
    return output;
  }

  /**
   * Sets how long an in-flight message stays invisible, counted from now (0 makes it visible
   * at once, which also ends its receipt handle). Refuses a stale handle as {@link deleteMessage}
   * does, and a message no longer in flight with `MessageNotInflight`.
   */
  async changeMessageVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void> {
    this.assertOpen();
    checkVisibility(visibilityTimeoutSeconds);
    const now = this.settings.now();
    const message = this.inFlightMessage(receiptHandle, now, "MessageNotInflight");
    await this.commit([{ t: "visibility", id: message.id, a: now + visibilityTimeoutSeconds * 1000 }]);
    if (visibilityTimeoutSeconds === 0) this.wake();
  }

  /**
   * Moves dead-lettered messages back to the tail of their groups in the queue, oldest
   * dead-lettered first, each with its receive count reset; at most `maxMessages` when given.
   * Resolves with how many moved.
   */
  async redrive(options: { maxMessages?: number } = {}): Promise<number> {
    this.assertOpen();
    const limit = options.maxMessages ?? Number.POSITIVE_INFINITY;
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 1)) {
      throw new SqsStandInError("InvalidParameterValue", "maxMessages must be a whole number of at least 1.");
    }
    const now = this.settings.now();
    const records: JournalRecord[] = [];
    let seq = this.state.lastSeq;
    for (const message of this.state.dlq.values()) {
      if (records.length >= limit) break;
      seq += 1n;
      records.push({ t: "redrive", id: message.id, seq: seq.toString().padStart(20, "0"), at: now });
    }
    if (records.length === 0) return 0;
    await this.commit(records);
    this.wake();
    return records.length;
  }

  /**
   * Makes every in-flight message visible now, ending its receipt handle; its receive count
   * stays. Not an SQS call: for the receiver's start, since the stand-in lives in the consumer's
   * process, so after a restart nothing can still be working on a message it left in flight, and
   * waiting out a consumer-sized visibility timeout would only delay them. Resolves with how many.
   */
  async releaseInFlight(): Promise<number> {
    this.assertOpen();
    const now = this.settings.now();
    const records: JournalRecord[] = [];
    for (const message of this.state.source.values()) {
      if (message.receipt !== undefined && message.availableAt > now) records.push({ t: "visibility", id: message.id, a: now });
    }
    if (records.length === 0) return 0;
    await this.commit(records);
    this.wake();
    return records.length;
  }

  /** The queue's counts and oldest message's age, as CloudWatch's SQS metrics report them. */
  counts(): QueueCounts {
    const now = this.settings.now();
    const counts: QueueCounts = { visible: 0, inFlight: 0, delayed: 0, deadLettered: this.state.dlq.size, oldestMessageAgeSeconds: 0 };
    let oldest = Number.POSITIVE_INFINITY;
    for (const message of this.state.source.values()) {
      oldest = Math.min(oldest, message.sentAt);
      if (message.availableAt <= now) counts.visible += 1;
      else if (message.receipt === undefined) counts.delayed += 1;
      else counts.inFlight += 1;
    }
    if (oldest !== Number.POSITIVE_INFINITY) counts.oldestMessageAgeSeconds = Math.max(0, Math.floor((now - oldest) / 1000));
    return counts;
  }

  /**
   * SendMessage to the dead-letter queue, as a consumer that dead-letters a record itself does
   * (the deployed consumer sends a copy there, then lets the record be deleted). A copy whose
   * MessageDeduplicationId the dead-letter queue already holds is accepted without a second one:
   * a consumer that crashed after this send and sends again adds nothing. Resolves with the
   * dead-letter queue's MessageId, once on disk. Refuses what {@link sendMessage} refuses.
   */
  async sendToDeadLetterQueue(input: SendMessageInput, receiveCount = 0): Promise<{ MessageId: string }> {
    this.assertOpen();
    validateSend(input, this.settings.maxMessageBytes);
    for (const held of this.state.dlq.values()) {
      if (held.dedup !== input.MessageDeduplicationId) continue;
      await this.journal.sync();
      return { MessageId: held.id };
    }
    const now = this.settings.now();
    const message: StoredMessage = {
      id: randomUUID(),
      body: input.MessageBody,
      md5: md5Hex(input.MessageBody),
      group: input.MessageGroupId,
      dedup: input.MessageDeduplicationId,
      seq: this.state.nextSeq(),
      sentAt: now,
      availableAt: now,
      receiveCount,
      deadLetteredAt: now,
    };
    await this.commit([{ t: "put", q: "dlq", m: message }]);
    return { MessageId: message.id };
  }

  /**
   * Whether a message with this MessageDeduplicationId is in the queue or its dead-letter queue
   * now (not an SQS call: the receiver's start checks the ledger's `queued` entries against it).
   */
  holdsDeduplicationId(deduplicationId: string): boolean {
    for (const queue of [this.state.source, this.state.dlq]) {
      for (const message of queue.values()) if (message.dedup === deduplicationId) return true;
    }
    return false;
  }

  /** The dead-letter queue's messages, in the order they arrived there, without changing them. */
  deadLetters(): DeadLetter[] {
    return [...this.state.dlq.values()].map((message) => ({
      MessageId: message.id,
      Body: message.body,
      MessageGroupId: message.group,
      MessageDeduplicationId: message.dedup,
      SentTimestamp: message.sentAt,
      ReceiveCount: message.receiveCount,
      DeadLetteredAt: message.deadLetteredAt ?? message.sentAt,
    }));
  }

  /**
   * Receives one batch and runs `handler` on it as Lambda's event source mapping would, with
   * ReportBatchItemFailures on: the records the response does not list are deleted; listed ones
   * stay in flight until their visibility timeout, or whatever the handler set with
   * {@link changeMessageVisibility}. Like Lambda, it trusts the list: for a FIFO queue the
   * handler itself must list every record after a failed one in the same group (Powertools'
   * FIFO processor does). A handler that throws, or a response naming a record not in the batch,
   * fails the whole batch. Resolves with what was received, deleted and left.
   */
  async processBatch(handler: SqsBatchHandler, options: BatchOptions = {}): Promise<BatchOutcome> {
    const batchSize = options.batchSize ?? maxBatchSize;
    checkBatchSize(batchSize);
    const messages = await this.receiveMessage({ maxMessages: batchSize });
    const received = messages.map((message) => message.MessageId);
    if (messages.length === 0) return { received, deleted: [], failed: [] };

    const onError = options.onError ?? reportToConsole;
    const event: SQSEvent = { Records: messages.map((message) => this.record(message)) };
    const requestId = randomUUID();
    const context = (options.context ?? ((id: string) => lambdaContext(id, this.settings.region)))(requestId);
    let failedIds: Set<string>;
    try {
      failedIds = failuresOf(await handler(event, context), received);
    } catch (error) {
      onError(error);
      return { received, deleted: [], failed: received };
    }

    const toDelete = messages.filter((message) => !failedIds.has(message.MessageId));
    const output = await this.deleteMessageBatch(toDelete.map((message) => message.ReceiptHandle));
    const refused = new Set(output.Failed.map((failure) => failure.ReceiptHandle));
    for (const failure of output.Failed) {
      onError(new SqsStandInError(failure.Code, `Deleting a handled message failed, so it will be delivered again: ${failure.Message}`));
    }
    const deleted = toDelete.filter((message) => !refused.has(message.ReceiptHandle)).map((message) => message.MessageId);
    const deletedIds = new Set(deleted);
    return { received, deleted, failed: received.filter((id) => !deletedIds.has(id)) };
  }

  /**
   * Runs {@link processBatch} in a loop, `maxConcurrency` batches at a time, as Lambda's event
   * source mapping polls the queue: an idle poller waits for a send (or redrive, or a visibility
   * ending) before looking again. `stop()` waits for the batches in progress.
   */
  startPolling(handler: SqsBatchHandler, options: PollingOptions = {}): Poller {
    this.assertOpen();
    checkBatchSize(options.batchSize ?? maxBatchSize);
    const concurrency = options.maxConcurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new SqsStandInError("InvalidParameterValue", "maxConcurrency must be a whole number of at least 1.");
    }
    const idleWaitMs = options.idleWaitMs ?? 1000;
    const onError = options.onError ?? reportToConsole;
    let stopping = false;

    const loop = async (): Promise<void> => {
      while (!stopping && !this.closed) {
        let received = 0;
        try {
          received = (await this.processBatch(handler, { ...options, onError })).received.length;
        } catch (error) {
          onError(error);
        }
        if (received === 0 && !stopping) await this.idle(idleWaitMs);
      }
    };
    const loops = Array.from({ length: concurrency }, () => loop());
    const poller: Poller = {
      stop: async () => {
        stopping = true;
        this.wake();
        await Promise.all(loops);
        this.pollers.delete(poller);
      },
    };
    this.pollers.add(poller);
    return poller;
  }

  /** Stops any pollers, waits for the journal's pending writes and closes it; later calls are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.pollers].map((poller) => poller.stop()));
    this.closed = true;
    this.wake();
    await this.journal.close();
  }

  private commit(records: JournalRecord[]): Promise<void> {
    for (const record of records) this.state.apply(record);
    return this.journal.append(records);
  }

  // Each group's messages in order, groups by their oldest message; groups with one in flight left out.
  private availableGroups(now: number): StoredMessage[][] {
    const groups = new Map<string, StoredMessage[]>();
    const held = new Set<string>();
    for (const message of this.state.source.values()) {
      if (message.receipt !== undefined && message.availableAt > now) held.add(message.group);
      const group = groups.get(message.group);
      if (group) group.push(message);
      else groups.set(message.group, [message]);
    }
    return [...groups].filter(([group]) => !held.has(group)).map(([, messages]) => messages);
  }

  private inFlightMessage(handle: string, now: number, notInFlight: SqsStandInErrorCode): StoredMessage {
    const id = messageIdOf(handle);
    if (id === undefined) {
      throw new SqsStandInError("ReceiptHandleIsInvalid", "The receipt handle is not a valid receipt handle for this queue.");
    }
    const message = this.state.source.get(id);
    if (!message || message.receipt !== handle) {
      throw new SqsStandInError("InvalidParameterValue", "The receipt handle has expired: the message was received again since, or is gone.");
    }
    if (message.availableAt <= now) {
      throw notInFlight === "MessageNotInflight"
        ? new SqsStandInError("MessageNotInflight", "The message is not in flight: its visibility timeout has ended.")
        : new SqsStandInError("InvalidParameterValue", "The receipt handle has expired: the message's visibility timeout has ended.");
    }
    return message;
  }

  private received(message: StoredMessage): ReceivedMessage {
    return {
      MessageId: message.id,
      ReceiptHandle: message.receipt ?? "",
      Body: message.body,
      MD5OfBody: message.md5,
      Attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
        SenderId: this.settings.accountId,
        SequenceNumber: message.seq,
        MessageGroupId: message.group,
        MessageDeduplicationId: message.dedup,
      },
    };
  }

  private record(message: ReceivedMessage): SQSRecord {
    return {
      messageId: message.MessageId,
      receiptHandle: message.ReceiptHandle,
      body: message.Body,
      attributes: { ...message.Attributes },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody,
      eventSource: "aws:sqs",
      eventSourceARN: this.arn,
      awsRegion: this.settings.region,
    };
  }

  // Resolves after `ms`, at the next wake (a send, a redrive, a message made visible, a stop),
  // or sooner when a message's visibility or delay ends first.
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const now = this.settings.now();
      let next = Number.POSITIVE_INFINITY;
      for (const message of this.state.source.values()) {
        if (message.availableAt > now) next = Math.min(next, message.availableAt);
      }
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, next - now)));
      this.wakers.add(done);
    });
  }

  private wake(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const waker of wakers) waker();
  }

  private assertOpen(): void {
    if (this.closed) throw new SqsStandInError("QueueUnavailable", "The queue stand-in is closed.");
  }
}

function validateSend(input: SendMessageInput, maxMessageBytes: number): void {
  const { MessageBody: body, MessageGroupId: group, MessageDeduplicationId: dedup } = input;
  if (typeof body !== "string" || body.length === 0) {
    throw new SqsStandInError("MissingParameter", "The request must contain a non-empty MessageBody.");
  }
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes > maxMessageBytes) {
    throw new SqsStandInError("InvalidParameterValue", `The message body is ${bytes} bytes; the queue accepts at most ${maxMessageBytes}.`);
  }
  if (forbiddenBodyCharacter.test(body)) {
    throw new SqsStandInError("InvalidMessageContents", "The message body contains characters outside what SQS allows (XML's character set).");
  }
  for (const [name, value] of [["MessageGroupId", group], ["MessageDeduplicationId", dedup]] as const) {
    if (value === undefined || value === "") {
      throw new SqsStandInError("MissingParameter", `A FIFO queue requires ${name} (this queue has no content-based deduplication).`);
    }
    if (typeof value !== "string" || !sqsIdPattern.test(value)) {
      throw new SqsStandInError("InvalidParameterValue", `${name} must be 1 to 128 letters, digits or ASCII punctuation.`);
    }
  }
}

function checkVisibility(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > maxVisibilityTimeoutSeconds) {
    throw new SqsStandInError("InvalidParameterValue", `VisibilityTimeout must be a whole number of seconds from 0 to ${maxVisibilityTimeoutSeconds}.`);
  }
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > maxBatchSize) {
    throw new SqsStandInError("InvalidParameterValue", `batchSize must be a whole number from 1 to ${maxBatchSize} (Lambda's limit for FIFO queues).`);
  }
}

/**
 * The records a handler's response reports failed, as Lambda reads it: no response, no list or an
 * empty list is a full success; a list naming a record by its message id fails that record; an
 * entry without a message id of this batch, or a response of another shape, fails them all.
 */
function failuresOf(response: unknown, batch: readonly string[]): Set<string> {
  if (response === undefined || response === null) return new Set();
  const invalid = () => new SqsStandInError("InvalidParameterValue", "The handler's batch response is invalid, so the whole batch failed.");
  if (typeof response !== "object" || Array.isArray(response)) throw invalid();
  const failures: unknown = (response as Partial<SQSBatchResponse>).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) throw invalid();
  const ids = new Set<string>();
  for (const failure of failures) {
    const id: unknown = typeof failure === "object" && failure !== null ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== "string" || !batch.includes(id)) throw invalid();
    ids.add(id);
  }
  return ids;
}

// A receipt handle names its message and receive, with random bytes so it cannot be guessed.
function receiptHandle(messageId: string, receiveCount: number): string {
  return Buffer.from(`${messageId}:${receiveCount}:${randomBytes(12).toString("hex")}`, "utf8").toString("base64url");
}

function messageIdOf(handle: unknown): string | undefined {
  if (typeof handle !== "string" || !/^[A-Za-z0-9_-]+$/.test(handle)) return undefined;
  const parts = Buffer.from(handle, "base64url").toString("utf8").split(":");
  if (parts.length !== 3 || !/^\d+$/.test(parts[1] ?? "")) return undefined;
  return parts[0];
}

function md5Hex(body: string): string {
  return createHash("md5").update(body, "utf8").digest("hex");
}

function reportToConsole(error: unknown): void {
  console.error(`SQS stand-in: ${errorSummary(error)}`);
}
