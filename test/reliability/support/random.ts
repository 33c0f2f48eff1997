/** A small seeded PRNG (mulberry32), so schedules and fault patterns replay exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, bound). */
export function randomInt(random: () => number, bound: number): number {
  return Math.floor(random() * bound);
}

/** Shuffles in place (Fisher-Yates) and returns the array. */
export function shuffle<T>(random: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = randomInt(random, i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight; `work` may push more items
 * (retries) onto the queue. Stops with an error after `maxItems` items, so no loop is unbounded.
 */
export async function runPool<T>(
  queue: T[],
  concurrency: number,
  work: (item: T, queue: T[]) => Promise<void>,
  maxItems: number,
): Promise<number> {
  let taken = 0;
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      taken += 1;
      if (taken > maxItems) throw new Error(`more than ${maxItems} items: the loop did not converge`);
      await work(item, queue);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return taken;
}
