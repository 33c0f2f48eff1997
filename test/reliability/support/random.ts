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
