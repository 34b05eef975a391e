/** Runs `fn` once a slot is free; see {@link createSemaphore}. */
export type Gate = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * A counting semaphore as a {@link Gate}: at most `slots` calls run at once, the rest wait in arrival order.
 * A slot is released whether `fn` resolves or rejects.
 */
export function createSemaphore(slots: number): Gate & { readonly active: number; readonly waiting: number } {
  if (!Number.isInteger(slots) || slots < 1)
    throw new RangeError(`semaphore needs at least 1 slot, got ${slots}`);
  let active = 0;
  const queue: Array<() => void> = [];
  const release = (): void => {
    const next = queue.shift();
    if (next) next();
    else active--;
  };
  const gate = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < slots) active++;
    else await new Promise<void>((resolve) => queue.push(resolve));
    try {
      return await fn();
    } finally {
      release();
    }
  };
  return Object.defineProperties(gate, {
    active: { get: () => active },
    waiting: { get: () => queue.length },
  }) as Gate & { readonly active: number; readonly waiting: number };
}
