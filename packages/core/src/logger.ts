/**
 * The minimal structured logger the pipeline and handlers write to. Powertools' Logger fits it
 * (the Lambda entry passes one in); tests pass a recorder. Core never creates a logger itself.
 */
export interface WebhookLogger {
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

/** The log levels the outcome table assigns. */
export type LogLevel = keyof WebhookLogger;

/**
 * A logger that adds `keys` to every line, so a handler's own lines carry the event id and type
 * without each handler repeating them.
 */
export function withAttributes(logger: WebhookLogger, keys: Record<string, unknown>): WebhookLogger {
  return {
    info: (message, ...attributes) => logger.info(message, keys, ...attributes),
    warn: (message, ...attributes) => logger.warn(message, keys, ...attributes),
    error: (message, ...attributes) => logger.error(message, keys, ...attributes),
  };
}
