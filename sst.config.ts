/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  app(input) {
    return {
      name: "stripe-webhooks",
      home: "aws",
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
      providers: {
        aws: { version: "7.20.0" },
        // The API key comes from STRIPE_API_KEY at deploy time, never from code.
        stripe: { version: "0.0.28" },
      },
    };
  },
  async run() {
    await import("./infra/stage");
    const { table } = await import("./infra/table");
    await import("./infra/router");
    const { endpoint, webhookUrl } = await import("./infra/stripe");
    await import("./infra/handler");

    return {
      webhookUrl,
      table: table.name,
      stripeEndpointId: endpoint.id,
    };
  },
});
