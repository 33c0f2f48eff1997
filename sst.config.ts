/// <reference path="./.sst/platform/config.d.ts" />
export default $config({
  app(input) {
    return {
      name: "stripe-webhooks",
      home: "aws",
      providers: { stripe: "0.0.28" },
    };
  },
  async run() {},
});
