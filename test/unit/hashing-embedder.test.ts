import { describe, expect, it } from "vitest";
import { HashingEmbedder } from "../../src/pipeline/embed/hashing-embedder.js";

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * (b[i] as number), 0);

describe("HashingEmbedder", () => {
  it("is deterministic across calls and instances", async () => {
    const a = new HashingEmbedder();
    const b = new HashingEmbedder();
    const text = "The quick brown fox jumps over the lazy dog 42 times.";
    expect([...a.embedOne(text)]).toEqual([...a.embedOne(text)]);
    expect([...a.embedOne(text)]).toEqual([...b.embedOne(text)]);
    const [v] = await a.embed([text]);
    expect([...(v as Float32Array)]).toEqual([...b.embedOne(text)]);
  });

  it("returns one vector per text, in order, each of `dimensions` floats", async () => {
    const e = new HashingEmbedder({ dimensions: 64 });
    const texts = ["alpha beta", "gamma delta", "", "epsilon"];
    const vs = await e.embed(texts);
    expect(vs).toHaveLength(4);
    vs.forEach((v, i) => {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(64);
      expect([...v]).toEqual([...e.embedOne(texts[i] as string)]);
    });
    expect(await e.embed([])).toEqual([]);
    expect(new HashingEmbedder().dimensions).toBe(384);
    expect(new HashingEmbedder().embedOne("x")).toHaveLength(384);
  });

  it("vectors have unit L2 norm; text without words gives the zero vector", () => {
    const e = new HashingEmbedder({ dimensions: 128 });
    expect(e.normalized).toBe(true);
    for (const t of [
      "a",
      "hello world",
      "Lorem ipsum dolor sit amet, ".repeat(50),
      "x1 y2 z3",
      "naïve café",
    ]) {
      expect(norm(e.embedOne(t))).toBeCloseTo(1, 5);
    }
    for (const t of ["", "   ", "!!! --- ??? ...", "\n\t"]) {
      const v = e.embedOne(t);
      expect(v.every((x) => x === 0)).toBe(true);
    }
  });

  it("similar texts are closer than unrelated ones", () => {
    const e = new HashingEmbedder();
    const q = e.embedOne("how to configure the database connection timeout");
    const similar = e.embedOne("configure the timeout of the database connection");
    const unrelated = e.embedOne("a recipe for chocolate cake with fresh strawberries");
    expect(dot(q, similar)).toBeGreaterThan(0.5);
    expect(dot(q, similar)).toBeGreaterThan(dot(q, unrelated) + 0.3);
    expect(dot(q, q)).toBeCloseTo(1, 5);
  });

  it("is case-insensitive and ignores punctuation between words", () => {
    const e = new HashingEmbedder();
    expect([...e.embedOne("Hello World")]).toEqual([...e.embedOne("hello world")]);
    expect([...e.embedOne("HELLO, world!")]).toEqual([...e.embedOne("hello world")]);
    expect([...e.embedOne("ÉCOLE Über")]).toEqual([...e.embedOne("école über")]);
  });

  it("word order matters a little (bigrams), word choice a lot", () => {
    const e = new HashingEmbedder();
    const a = e.embedOne("dog bites man");
    const b = e.embedOne("man bites dog");
    expect([...a]).not.toEqual([...b]);
    expect(dot(a, b)).toBeGreaterThan(0.5);
    expect(dot(a, b)).toBeLessThan(0.999);
  });

  it("its id names the model version and the width", () => {
    expect(new HashingEmbedder().id).toBe("hashing-ngram-v1:384");
    expect(new HashingEmbedder({ dimensions: 64 }).id).toBe("hashing-ngram-v1:64");
    expect(new HashingEmbedder({ dimensions: 64 }).id).not.toBe(new HashingEmbedder({ dimensions: 65 }).id);
  });
});
