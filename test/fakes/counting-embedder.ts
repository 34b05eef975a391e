import { createHash } from "node:crypto";
import type { Embedder } from "../../src/core/embedder.js";

/** A deterministic {@link Embedder} that counts calls and texts; vectors come from a hash of the text. */
export class CountingEmbedder implements Embedder {
  readonly id: string;
  readonly normalized = false;
  calls = 0;
  texts: string[] = [];

  constructor(readonly dimensions = 8) {
    this.id = `counting:${dimensions}`;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    this.calls++;
    this.texts.push(...texts);
    return texts.map((t) => this.vectorOf(t));
  }

  /** The vector `embed` returns for `text`. */
  vectorOf(text: string): Float32Array {
    const digest = createHash("sha256").update(text).digest();
    return Float32Array.from(
      { length: this.dimensions },
      (_, i) => (digest[i % digest.length] as number) / 255,
    );
  }

  resetCounters(): void {
    this.calls = 0;
    this.texts = [];
  }
}
