import { testAwsEnvironment } from "@stripe-webhooks/testing/engines";
import { linkVariables } from "./handlers/links.ts";

/**
 * The environment a handler process gets: what Lambda gives the deployed function (region,
 * credentials, function name and memory), the links as the bench passes them (plain variables,
 * see handlers/links.ts), pointed at a local DynamoDB. Built from scratch rather than
 * inherited, so nothing in the developer's shell (AWS_PROFILE, POWERTOOLS_DEV...) changes what
 * is measured.
 */
export function handlerEnvironment(options: {
  name: string;
  /** The DynamoDB endpoint; omitted when the process starts its own (the burst's receiver). */
  endpoint?: string;
  /** The table; omitted when the process creates its own. */
  tableName?: string;
  secret: string;
  logLevel?: string;
  /** The handlers' Stripe API key link; unset by default (see handlers/links.ts). */
  stripeApiKey?: string;
  /** `STRIPE_API_BASE`: the Stripe API double, for a handler that calls the API. */
  stripeApiBase?: string;
}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ...testAwsEnvironment,
    ...(options.endpoint ? { AWS_ENDPOINT_URL_DYNAMODB: options.endpoint } : {}),
    AWS_LAMBDA_FUNCTION_NAME: `stripe-webhooks-bench-${options.name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
    // Lambda runs Node 24; on this Node 20 the SDK would print a support warning at first use.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    [linkVariables.webhookSecret]: options.secret,
    [linkVariables.stage]: "bench",
    ...(options.tableName ? { [linkVariables.tableName]: options.tableName } : {}),
    ...(options.stripeApiKey ? { [linkVariables.stripeApiKey]: options.stripeApiKey } : {}),
    ...(options.stripeApiBase ? { STRIPE_API_BASE: options.stripeApiBase } : {}),
    STRIPE_MODE: "test",
    // The baselines construct a full Stripe client, as their authors would; it is never called.
    STRIPE_API_KEY: "sk_test_bench_never_used",
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? "INFO",
  };
}
