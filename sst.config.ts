/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  async app(input) {
    // The region is a stage setting: left unset, it would come from whatever environment runs the
    // deploy, and a deploy from another region would create a second copy of the stage.
    const { stageSettings } = await import("./infra/stage");
    const { region } = stageSettings(input.stage);
    return {
      name: "stripe-webhooks",
      home: "aws",
      removal: input.stage === "production" ? "retain" : "remove",
      protect: input.stage === "production",
      providers: {
        aws: { version: "7.20.0", region },
        // The API key comes from STRIPE_API_KEY at deploy time, never from code.
        stripe: { version: "0.0.28" },
      },
    };
  },
  async run() {
    // First, before anything is created: the stage's settings, the Stripe key, the secret override.
    await import("./infra/preflight");
    const { table } = await import("./infra/table");
    await import("./infra/router");
    const { endpointId, drainingEndpointId, webhookUrl } = await import("./infra/stripe");
    // Queued processing's queues and consumer (none for an inline stage), before the functions that send to it.
    const { queue, deadLetterQueue } = await import("./infra/queue");
    await import("./infra/handler");
    await import("./infra/reconciler");
    await import("./infra/monitoring");

    return {
      webhookUrl,
      table: table.name,
      stripeEndpointId: endpointId,
      ...(drainingEndpointId ? { stripeDrainingEndpointId: drainingEndpointId } : {}),
      ...(queue && deadLetterQueue ? { queue: queue.url, deadLetterQueue: deadLetterQueue.url } : {}),
    };
  },
});
