/** `1 chunk`, `2 chunks`, `0 chunks`: a count and its noun, plural unless the count is 1. */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : many}`;
}
