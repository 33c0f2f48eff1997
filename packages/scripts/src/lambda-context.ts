import type { Context } from "aws-lambda";
import { handlerTimeoutSeconds } from "@stripe-webhooks/core/limits";

/** The deployed function's timeout; a local invocation gets the same budget. */
export const functionTimeoutMs = handlerTimeoutSeconds * 1000;

const functionName = "stripe-webhooks-local-WebhookHandler";

/**
 * A Lambda invocation context, for handlers (or Powertools' `injectLambdaContext`) that read
 * the request id, function name or remaining time.
 */
export function lambdaContext(requestId: string, region: string): Context {
  const deadline = Date.now() + functionTimeoutMs;
  const unsupported = () => {
    throw new Error("done/fail/succeed are not supported: return a promise from the handler");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
