/*
 * The event types `npm run trigger` sends besides the catalog's, and how it finds what a
 * mistyped one meant.
 */

/**
 * Real Stripe event types outside the catalog that the fixtures can build: what a developer
 * sends to see the receiver record an event it has no handler for (`ignored`). The trigger
 * tool sends these and the catalog's types, and refuses anything else as a likely typo.
 */
export const typesOutsideCatalog = [
  "charge.refunded",
  "charge.succeeded",
  "checkout.session.expired",
  "customer.created",
  "customer.subscription.trial_will_end",
  "customer.updated",
  "invoice.created",
  "invoice.finalized",
  "payment_intent.payment_failed",
  "payment_intent.succeeded",
  "price.created",
  "product.created",
  "refund.created",
] as const;

/** The number of single-character edits (insert, delete, replace) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const replace = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, replace));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// Past this length a value is not a mistyped event type, and comparing it costs for nothing.
const maxComparedLength = 100;

/**
 * The `candidates` closest to `type` by {@link editDistance}, nearest first (ties in the given
 * order), at most `count` of them, and only those near enough to be what was meant: within
 * three edits, or two fifths of the type's length when that is more.
 */
export function closestTypes(type: string, candidates: readonly string[], count = 3): string[] {
  if (type.length > maxComparedLength) return [];
  const near = Math.max(3, Math.ceil(type.length * 0.4));
  return candidates
    .map((candidate, order) => ({ candidate, order, distance: editDistance(type, candidate) }))
    .filter(({ distance }) => distance <= near)
    .sort((a, b) => a.distance - b.distance || a.order - b.order)
    .slice(0, count)
    .map(({ candidate }) => candidate);
}
