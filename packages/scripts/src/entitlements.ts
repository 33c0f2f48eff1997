import { listEntitlements, type Entitlement } from "@stripe-webhooks/core/entitlements";
import { parseLedgerToolCli, runMain, UsageError } from "./cli.ts";
import { resolveDataDir } from "./data-dir.ts";
import { findLedger } from "./ledger-target.ts";
import { formatTable, printable } from "./table.ts";

/*
 * `npm run entitlements`: the entitlements projection (customer -> current subscription) the
 * handlers keep in the ledger's table, from the local receiver or (under `sst shell --stage
 * <name>`) a deployed stage. It holds ids, statuses and dates only, nothing personal.
 */

const usage = `Usage: npm run entitlements -- [options]

Options:
  --customer ID    only this customer (cus_...)
  --json           print a JSON array (every subscription of each customer) instead of a table
  --data-dir DIR   the local receiver's data directory [DATA_DIR, default .data/local]
Reads a deployed stage's table when run as: npx sst shell --stage <name> -- npm run entitlements`;

/** Epoch seconds -> `2026-01-02 03:04:05Z`. */
function time(seconds: number | null): string {
  if (seconds === null) return "-";
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

function table(entitlements: readonly Entitlement[]): string {
  const header = ["CUSTOMER", "SUBSCRIPTION", "STATUS", "PRICE", "PERIOD END", "CANCELS", "SUBSCRIPTIONS", "SYNCED AT"];
  const rows = entitlements.map(({ customer, subscription, subscriptions }) => [
    customer,
    subscription.id,
    subscription.status,
    subscription.priceId ?? "-",
    time(subscription.currentPeriodEnd),
    subscription.cancelAtPeriodEnd ? "at period end" : "-",
    String(subscriptions.length),
    `${subscription.syncedAt.slice(0, 10)} ${subscription.syncedAt.slice(11, 19)}Z`,
  ]);
  return formatTable(header, rows);
}

async function main(): Promise<number> {
  const parsed = parseLedgerToolCli({ customer: { type: "string" } }, usage);
  if (!parsed) return 0;
  const { values } = parsed;
  const customer = values.customer;
  if (customer !== undefined && !/^cus_\w+$/.test(customer)) {
    throw new UsageError(`--customer must be a customer id (cus_...), got "${printable(customer)}"`);
  }

  const ledger = await findLedger(resolveDataDir(values["data-dir"]));
  try {
    const entitlements = await listEntitlements(ledger.client, ledger.tableName, customer === undefined ? {} : { customer });
    if (values.json) {
      console.log(JSON.stringify(entitlements, null, 2));
    } else {
      console.log(`Entitlements: ${ledger.description}`);
      console.log(entitlements.length === 0 ? "(no entitlements)" : table(entitlements));
      console.log(`${entitlements.length} ${entitlements.length === 1 ? "customer" : "customers"}, the current subscription of each`);
    }
  } finally {
    await ledger.close();
  }
  return 0;
}

runMain(main);
