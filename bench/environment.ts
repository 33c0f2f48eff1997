import { testAwsEnvironment } from "@stripe-webhooks/testing/engines";

/**
 * The environment a handler process gets: what Lambda and SST give the deployed function
 * (region, credentials, function name, SST_RESOURCE_* links), pointed at a local DynamoDB.
 * Built from scratch rather than inherited, so nothing in the developer's shell (AWS_PROFILE,
 * POWERTOOLS_DEV...) changes what is measured.
 */
export function handlerEnvironment(options: {
  name: string;
  endpoint: string;
  tableName: string;
  secret: string;
  logLevel?: string;
}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ...testAwsEnvironment,
    AWS_ENDPOINT_URL_DYNAMODB: options.endpoint,
    AWS_LAMBDA_FUNCTION_NAME: `stripe-webhooks-bench-${options.name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
    // Lambda runs Node 24; on this Node 20 the SDK would print a support warning at first use.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    SST_RESOURCE_App: JSON.stringify({ name: "stripe-webhooks", stage: "bench" }),
    SST_RESOURCE_StripeWebhookSecret: JSON.stringify({ type: "sst.sst.Secret", value: options.secret }),
    SST_RESOURCE_Ledger: JSON.stringify({ type: "sst.aws.Dynamo", name: options.tableName }),
    STRIPE_MODE: "test",
    // The baselines construct a full Stripe client, as their authors would; it is never called.
    STRIPE_API_KEY: "sk_test_bench_never_used",
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? "INFO",
  };
}
