import { effectKeyPrefix } from "@stripe-webhooks/core/effects";
import { entitlementHandlers } from "@stripe-webhooks/core/handlers";
import { ledgerTable } from "@stripe-webhooks/core/ledger-table";
import { oursHandler } from "./ours-handler.ts";

/*
 * "ours, with a staged effect": ours with one handler changed. A completed one-off Checkout
 * Session stages a fulfilment record (the write a shop makes for a paid order), committed with
 * the ledger's completion in one TransactWriteItems; the deployed handler logs that the session
 * carries no subscription and writes nothing. Both log one line of their own, so the difference
 * between the two is the staging and the transaction.
 */
export const handler = oursHandler({
  ...entitlementHandlers,
  async "checkout.session.completed"(event, context) {
    const session = event.data.object;
    // Unconditional: the bench's events all carry the fixture's session id, and a put that
    // commits exactly once per event needs no guard against its own redelivery.
    context.effects.put({
      [ledgerTable.partitionKey]: `${effectKeyPrefix}order#${session.id}`,
      amountTotal: session.amount_total,
      currency: session.currency,
      paymentStatus: session.payment_status,
      fulfilledBy: event.id,
    });
    context.logger.info("Order recorded for fulfilment", { objectId: session.id });
    return { outcome: `order ${session.id} recorded` };
  },
});
