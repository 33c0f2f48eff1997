import type Stripe from "stripe";
import { startStripeApiDouble, type StripeApiDouble } from "@stripe-webhooks/testing/stripe-api-double";
import { serve } from "../shared/ipc.ts";
import { startLatencyProxy } from "./counting.ts";

/*
 * Stripe's side of the renewal burst, in a process of its own as Stripe's API is on servers of
 * its own: the test kit's Stripe API double (a double, since Stripe's API cannot be reached
 * here) enforcing the read limit, behind the proxy that gives each request Stripe's latency.
 */

let started: { double: StripeApiDouble; proxy: { url: string; close(): Promise<void> } } | undefined;

function running() {
  if (!started) throw new Error("the Stripe side was not started");
  return started;
}

const calls = {
  async start(input: { apiKey: string; readsPerSecond: number; latencyMs: number }) {
    const double = await startStripeApiDouble({ apiKeys: [input.apiKey], rateLimit: { mode: "test", readsPerSecond: input.readsPerSecond } });
    const proxy = await startLatencyProxy(double.url, input.latencyMs);
    started = { double, proxy };
    return { url: proxy.url };
  },
  async setSubscriptions(subscriptions: Partial<Stripe.Subscription>[]) {
    for (const subscription of subscriptions) running().double.setSubscription(subscription);
    return subscriptions.length;
  },
  async counts() {
    const { double } = running();
    return { apiRequests: double.requestCount(/^\/v1\/subscriptions/), rateLimited: double.rateLimited() };
  },
  async close() {
    const { double, proxy } = running();
    await proxy.close();
    await double.close();
    started = undefined;
  },
};

export type StripeSide = typeof calls;

serve(calls);
