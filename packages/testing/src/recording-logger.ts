import type { WebhookLogger } from "@stripe-webhooks/core/logger";

/** One line a {@link recordingLogger} kept: its level, message, and attributes merged into one object. */
export interface LogLine {
  level: keyof WebhookLogger;
  message: string;
  attributes: Record<string, unknown>;
}

/** A logger that keeps every line in memory, for tests that assert what was logged. */
export function recordingLogger(): { logger: WebhookLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const record =
    (level: keyof WebhookLogger) =>
    (message: string, ...attributes: Record<string, unknown>[]) => {
      lines.push({ level, message, attributes: Object.assign({}, ...attributes) });
    };
  return { logger: { info: record("info"), warn: record("warn"), error: record("error") }, lines };
}
