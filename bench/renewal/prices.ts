/*
 * AWS's on-demand prices in us-east-1, as published on AWS's pricing pages in January 2025 (the
 * latest this project could read; they cannot be re-checked from here, so compare them with the
 * pages before relying on them). DynamoDB's are those after its on-demand price cut of
 * 1 November 2024. Free tiers are left out.
 */

export const awsPrices = {
  publishedAs: "AWS's us-east-1 prices as published in January 2025",
  /** Lambda, per million invocations. */
  lambdaPerMillionRequests: 0.2,
  /** Lambda on arm64 (as infra deploys both functions), per GB-second. */
  lambdaArmPerGbSecond: 0.0000133334,
  /** SQS FIFO, per million requests; each 64 KiB chunk of a request's payload is one. */
  sqsFifoPerMillionRequests: 0.5,
  /** DynamoDB on-demand, per million write request units. */
  dynamoPerMillionWriteUnits: 0.625,
  /** DynamoDB on-demand, per million read request units. */
  dynamoPerMillionReadUnits: 0.125,
} as const;

/** Both functions' memory as infra deploys them (infra/handler.ts, infra/queue.ts). */
export const functionMemoryGb = 0.5;

export interface PerEventUse {
  lambdaInvocations: number;
  lambdaSeconds: number;
  sqsRequests: number;
  readUnits: number;
  writeUnits: number;
}

/** Dollars per million events for what one event used, by service, and their sum. */
export function costPerMillion(use: PerEventUse): { lambda: number; sqs: number; dynamo: number; total: number } {
  const lambda =
    use.lambdaInvocations * awsPrices.lambdaPerMillionRequests + use.lambdaSeconds * functionMemoryGb * awsPrices.lambdaArmPerGbSecond * 1e6;
  const sqs = use.sqsRequests * awsPrices.sqsFifoPerMillionRequests;
  const dynamo = use.readUnits * awsPrices.dynamoPerMillionReadUnits + use.writeUnits * awsPrices.dynamoPerMillionWriteUnits;
  return { lambda, sqs, dynamo, total: lambda + sqs + dynamo };
}
