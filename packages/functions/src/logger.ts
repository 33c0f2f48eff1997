import { Logger } from "@aws-lambda-powertools/logger";
import type { WebhookLogger } from "@stripe-webhooks/core/logger";

/**
 * The functions' structured JSON logger (Powertools), one per container. Its level and sampling
 * follow the standard `POWERTOOLS_LOG_LEVEL` and `POWERTOOLS_LOGGER_SAMPLE_RATE` variables;
 * `POWERTOOLS_DEV=true` pretty-prints it for local runs.
 */
export function createLogger(): Logger & WebhookLogger {
  return new Logger({ serviceName: "stripe-webhooks" });
}
