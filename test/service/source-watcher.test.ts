import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  SourceWatcher,
  type WatchBatch,
  type SourceWatcher as Watcher,
} from "../../src/service/source-watcher.js";
import { FsSource } from "../../src/sources/local-filesystem/fs-source.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { until } from "./support.js";

let tmp: ReturnType<typeof makeTempDir>;
let watcher: Watcher | undefined;

beforeEach(() => {
  tmp = makeTempDir("svc-watcher-");
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  tmp.cleanup();
});

describe("source watcher", () => {
  it.each([false, true])(
    "hands over exactly the keys the folder source lists (hidden, node_modules, patterns, ignores, symlinks; followSymlinks %s)",
    async (followSymlinks) => {
      const root = join(tmp.path, "root");
      const outside = join(tmp.path, "outside");
      for (const d of ["docs/deep", ".git", "node_modules/pkg", "build", "notes"])
        mkdirSync(join(root, d), { recursive: true });
      mkdirSync(outside);
      writeFileSync(join(outside, "secret.md"), "# outside the root");
      const config = { patterns: ["**/*.md", "**/*.txt"], ignore: ["build/**", "**/*.draft.md"] };
      const batches: WatchBatch[] = [];
      const w = new SourceWatcher({
        roots: [root],
        ...config,
        followSymlinks,
        debounceMs: 100,
        onBatch: (b) => batches.push(b),
        onFailure: (f) => batches.push({ kind: "changes", keys: [`failure: ${f.message}`] }),
      });
      watcher = w;
      await w.start();
      expect(w.ready).toBe(true);

      const files = [
        "top.md",
        "docs/deep/a.txt",
        "docs/deep/b.MD",
        "docs/image.png",
        "docs/.hidden.md",
        ".git/HEAD.md",
        "node_modules/pkg/readme.md",
        "build/out.md",
        "notes/plan.draft.md",
        "notes/plan.md",
      ];
      for (const f of files) writeFileSync(join(root, f), `# ${f}\n`);
      symlinkSync(join(root, "top.md"), join(root, "notes/link-inside.md"));
      symlinkSync(join(outside, "secret.md"), join(root, "notes/link-outside.md"));

      const listed = await new FsSource({
        name: "root",
        paths: [root],
        ...config,
        followSymlinks,
        maxFileBytes: 1 << 20,
        readChunkBytes: 1 << 16,
      }).list();
      const expected = listed.items.map((i) => i.key).sort();
      expect(expected.map((k) => k.slice(root.length + 1))).toEqual([
        "docs/deep/a.txt",
        "docs/deep/b.MD",
        ...(followSymlinks ? ["notes/link-outside.md"] : []),
        "notes/plan.md",
        "top.md",
      ]);
      const seen = () =>
        [...new Set(batches.flatMap((b) => (b.kind === "changes" ? b.keys : ["folders"])))].sort();
      await until("the batches", () => seen().length >= expected.length);
      // Quiet for a while longer: nothing else arrives.
      await new Promise((r) => setTimeout(r, 300));
      expect(seen()).toEqual(expected);
      expect(w.lastEventAt).not.toBeNull();
    },
  );

  it("a steady stream of events still lands before it stops (max wait), one batch per quiet spell", async () => {
    const root = join(tmp.path, "root");
    mkdirSync(root);
    const batches: string[][] = [];
    const w = new SourceWatcher({
      roots: [root],
      followSymlinks: false,
      debounceMs: 100,
      onBatch: (b) => batches.push(b.kind === "changes" ? b.keys : ["folders"]),
      onFailure: () => undefined,
    });
    watcher = w;
    await w.start();
    // Every 30 ms for 2 s: never 100 ms of quiet, so only the 500 ms max wait lets batches out meanwhile.
    const stopAt = Date.now() + 2000;
    let i = 0;
    let landedDuringStream = false;
    while (Date.now() < stopAt) {
      writeFileSync(join(root, `f-${i++ % 5}.md`), `# ${i}\n`);
      if (batches.length > 0) landedDuringStream = true;
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(landedDuringStream).toBe(true);
    await until("the last batch", () => batches.flat().length > 0 && batches.at(-1)?.length);
    expect(new Set(batches.flat())).toEqual(new Set([0, 1, 2, 3, 4].map((n) => join(root, `f-${n}.md`))));
  });
});
