// What core/log.ts creates at module scope in the handler.
import { Logger } from "@aws-lambda-powertools/logger";

export const logger = new Logger({ serviceName: "probe" });
