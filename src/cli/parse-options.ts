import { InvalidArgumentError } from "commander";

/**
 * A commander argument parser for an integer option in `min..max`: `--limit abc` is refused naming the
 * value and what was expected (commander prefixes the option: `option '-l, --limit <n>' argument 'abc' is
 * invalid. expected an integer from 1 to 1000`).
 */
export function intOption(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** A commander parser for a repeatable single-value option: `--pattern a --pattern b` → `["a", "b"]`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
