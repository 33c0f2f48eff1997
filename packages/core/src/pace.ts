/**
 * Spaces calls evenly at `perSecond`: each call to the returned function resolves once at least
 * `1000 / perSecond` milliseconds have passed since the slot the previous call was given, so no
 * burst ever exceeds the rate (a fresh container starts with one slot, not a bucket's worth).
 * Callers that arrive together are given consecutive slots in arrival order. Throws a
 * RangeError for a rate that is not a positive finite number.
 */
export function createPacer(perSecond: number, now: () => number = () => performance.now()): () => Promise<void> {
  if (!Number.isFinite(perSecond) || perSecond <= 0) {
    throw new RangeError(`A pace is a positive number of calls per second, not ${String(perSecond)}.`);
  }
  const intervalMs = 1000 / perSecond;
  let nextSlot = Number.NEGATIVE_INFINITY;
  return async () => {
    const current = now();
    const slot = Math.max(current, nextSlot);
    nextSlot = slot + intervalMs;
    const wait = slot - current;
    if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, wait));
  };
}
