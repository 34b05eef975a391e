import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SourceItemRef, SourceListing } from "../../src/core/source.js";
import { describeError, isSyncError } from "../../src/errors/sync-error.js";
import { FsSource, type FsSourceOptions } from "../../src/sources/local-filesystem/fs-source.js";
import { FsWalker, LIST_READ_AHEAD_DIRS } from "../../src/sources/local-filesystem/fs-walk.js";
import { rejection } from "../helpers/caught.js";
import { makeTempDir } from "../helpers/temp-dir.js";

let tmp: { path: string; cleanup: () => void };
let root: string;
let outside: string;

beforeEach(() => {
  tmp = makeTempDir("fs-source-");
  root = join(tmp.path, "root");
  outside = join(tmp.path, "outside");
  mkdirSync(root);
  mkdirSync(outside);
});
afterEach(() => tmp.cleanup());

const source = (options: Partial<FsSourceOptions> = {}): FsSource =>
  new FsSource({ name: "docs", paths: [root], maxFileBytes: 1 << 20, readChunkBytes: 1 << 16, ...options });

function write(path: string, content: string | Uint8Array = "x"): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

const keys = (listing: SourceListing): string[] => listing.items.map((i) => i.key).sort();
const ref = (listing: SourceListing, key: string): SourceItemRef => {
  const item = listing.items.find((i) => i.key === key);
  if (!item) throw new Error(`${key} not listed`);
  return item;
};

/** No warning says an errno twice (`EACCES: EACCES`), and each names the errno once with its meaning. */
function expectCleanErrno(warning: string | undefined, errno: string): void {
  expect(warning).toBeDefined();
  expect(warning).toContain(errno);
  expect(warning?.split(errno).length).toBe(2);
}

describe("FsSource listing: one bad entry never stalls the source", () => {
  it("reports a symlink loop as a warning and an incomplete prefix, and lists the rest", async () => {
    write(join(root, "ok.txt"), "fine");
    symlinkSync(join(root, "loop-b"), join(root, "loop-a"));
    symlinkSync(join(root, "loop-a"), join(root, "loop-b"));
    const listing = await source().list();
    expect(keys(listing)).toEqual([`${root}/ok.txt`]);
    const warning = listing.warnings.find((w) => w.includes(`${root}/loop-a`));
    expectCleanErrno(warning, "ELOOP");
    expect(listing.incompletePrefixes).toEqual(
      expect.arrayContaining([`${root}/loop-a`, `${root}/loop-a/`, `${root}/loop-b`, `${root}/loop-b/`]),
    );
    expect(listing.emptyRoots).toEqual([]);
  });

  it("reports folders removed during the listing (ENOENT) instead of throwing", async () => {
    const dirs = LIST_READ_AHEAD_DIRS * 4 + 8;
    for (let i = 0; i < dirs; i++) write(join(root, `d${i}`, "note.txt"), `note ${i}`);
    // When the walk meets its first file, it has read the root and at most a few folders ahead: every folder
    // is removed then, so the ones not read yet vanish mid-listing.
    let removed = false;
    const walker = new FsWalker({
      rootReals: [root],
      followSymlinks: false,
      fingerprint: (st) => String(st.ino),
      match: () => {
        if (!removed) for (let i = 0; i < dirs; i++) rmSync(join(root, `d${i}`), { recursive: true });
        removed = true;
        return true;
      },
    });
    await walker.walkRoot(root);
    const listing = walker.listing();
    expect(removed).toBe(true);
    // Folders read before the removal: their file vanished before its lstat (nothing listed, nothing
    // incomplete: it is gone). The others could not be read.
    expect(listing.items).toEqual([]);
    expect(listing.incompletePrefixes.length).toBeGreaterThanOrEqual(dirs - LIST_READ_AHEAD_DIRS - 1);
    for (const prefix of listing.incompletePrefixes) {
      expect(prefix).toMatch(new RegExp(`^${root}/d\\d+/$`));
      expectCleanErrno(
        listing.warnings.find((w) => w.includes(prefix.slice(0, -1))),
        "ENOENT",
      );
    }
    expect(listing.warnings).toHaveLength(listing.incompletePrefixes.length);
  });

  it("throws SYNC_E_SOURCE_UNAVAILABLE for a missing root and names it", async () => {
    const err = await errorOf(() => source({ paths: [root, join(tmp.path, "unmounted")] }).list());
    expect(isSyncError(err, "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
    expect((err as Error).message).toContain(`${tmp.path}/unmounted`);
    expectCleanErrno((err as Error).message, "ENOENT");
  });

  it("reports a root folder that lists no item in emptyRoots as its key prefix", async () => {
    const empty = join(tmp.path, "empty");
    mkdirSync(empty);
    write(join(root, "a.txt"));
    write(join(empty, ".hidden.txt"));
    write(join(empty, "image.png"));
    const listing = await source({ paths: [root, empty, join(root, "a.txt")] }).list();
    expect(listing.emptyRoots).toEqual([`${empty}/`]);
    expect(keys(listing)).toEqual([`${root}/a.txt`]);
  });

  it("honours the abort signal", async () => {
    const err = await errorOf(() => source().list(AbortSignal.abort()));
    expect((err as Error).name).toBe("AbortError");
  });
});

describe("FsSource listing: names and patterns", () => {
  it("skips dot-files, node_modules and non-matching files as before", async () => {
    write(join(root, "a.md"));
    write(join(root, "B.TXT"));
    write(join(root, ".secret.txt"));
    write(join(root, ".git", "x.txt"));
    write(join(root, "node_modules", "pkg", "readme.md"));
    write(join(root, "photo.png"));
    write(join(root, "sub", "c.html"));
    expect(keys(await source().list())).toEqual([`${root}/B.TXT`, `${root}/a.md`, `${root}/sub/c.html`]);
    expect(keys(await source({ patterns: ["sub/**"] }).list())).toEqual([`${root}/sub/c.html`]);
  });

  it("warns about and skips names that are not valid UTF-8, keeping valid ones", async () => {
    write(join(root, "good.txt"));
    write(join(root, "ünïcödé ✓.txt"));
    write(join(root, "replacement-\uFFFD.txt"));
    const badFile = Buffer.concat([
      Buffer.from(`${root}/bad-`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(".txt"),
    ]);
    writeFileSync(badFile, "x");
    const badDir = Buffer.concat([Buffer.from(`${root}/dir-`), Buffer.from([0xc3, 0x28])]);
    mkdirSync(badDir);
    writeFileSync(Buffer.concat([badDir, Buffer.from("/inner.txt")]), "x");
    const listing = await source().list();
    expect(keys(listing)).toEqual(
      [`${root}/good.txt`, `${root}/replacement-\uFFFD.txt`, `${root}/ünïcödé ✓.txt`].sort(),
    );
    expect(listing.warnings).toEqual(
      expect.arrayContaining([
        `fs: skipped ${root}/bad-\\xff\\xfe.txt: the name is not valid UTF-8`,
        `fs: skipped ${root}/dir-\\xc3(: the name is not valid UTF-8`,
      ]),
    );
    expect(listing.warnings).toHaveLength(2);
    expect(listing.incompletePrefixes).toEqual([]);
  });
});

describe("FsSource symlinks", () => {
  it("skips symlinks whose target is inside a root: each file is listed once, under its own path", async () => {
    write(join(root, "real", "a.txt"), "A");
    symlinkSync(join(root, "real", "a.txt"), join(root, "alias.txt"));
    symlinkSync(join(root, "real"), join(root, "alias-dir"));
    const listing = await source({ followSymlinks: true }).list();
    expect(keys(listing)).toEqual([`${root}/real/a.txt`]);
    expect(listing.warnings).toEqual([]);
  });

  it("checks inside/outside against the roots' real paths, keeping keys under the root as given", async () => {
    write(join(outside, "real.txt"), "R");
    const viaLink = join(tmp.path, "root-link");
    symlinkSync(outside, viaLink);
    symlinkSync(join(outside, "real.txt"), join(outside, "alias.txt"));
    const listing = await source({ paths: [viaLink] }).list();
    expect(keys(listing)).toEqual([`${viaLink}/real.txt`]);
    expect(listing.warnings).toEqual([]);
  });

  it("never indexes a symlink to a file outside the roots by default", async () => {
    write(join(outside, "id_rsa"), "PRIVATE KEY");
    write(join(outside, "docs", "x.md"), "external doc");
    symlinkSync(join(outside, "id_rsa"), join(root, "notes.txt"));
    symlinkSync(join(outside, "docs"), join(root, "ext"));
    const listing = await source().list();
    expect(keys(listing)).toEqual([]);
    expect(listing.warnings).toHaveLength(2);
    expect(listing.warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${root}/notes.txt -> ${outside}/id_rsa: target outside the roots`),
        expect.stringContaining(`${root}/ext -> ${outside}/docs: target outside the roots`),
      ]),
    );
    expect(listing.incompletePrefixes).toEqual([]);
  });

  it("follows symlinks to outside files and folders with followSymlinks, under the link's path", async () => {
    write(join(outside, "file.txt"), "F");
    write(join(outside, "docs", "x.md"), "external doc");
    symlinkSync(join(outside, "file.txt"), join(root, "notes.txt"));
    symlinkSync(join(outside, "docs"), join(root, "ext"));
    const fs = source({ followSymlinks: true });
    const listing = await fs.list();
    expect(keys(listing)).toEqual([`${root}/ext/x.md`, `${root}/notes.txt`]);
    expect(listing.warnings).toEqual([]);
    const fetched = await fs.fetch(ref(listing, `${root}/ext/x.md`));
    expect(Buffer.from(fetched.bytes).toString()).toBe("external doc");
  });

  it("walks a followed folder once, even through a loop or a second link", async () => {
    write(join(outside, "docs", "x.md"), "external doc");
    symlinkSync(join(outside, "docs"), join(outside, "docs", "back"));
    symlinkSync(outside, join(outside, "docs", "up"));
    symlinkSync(join(outside, "docs"), join(root, "ext"));
    const listing = await source({ followSymlinks: true }).list();
    const listed = keys(listing);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toContain(`${root}/ext/x.md`);
    expect(listing.warnings.some((w) => w.includes("already walked"))).toBe(true);
  });

  it("skips a dangling symlink with a warning, without an incomplete prefix", async () => {
    write(join(root, "a.txt"));
    symlinkSync(join(tmp.path, "nowhere.txt"), join(root, "dangling.txt"));
    const listing = await source().list();
    expect(keys(listing)).toEqual([`${root}/a.txt`]);
    expect(listing.warnings).toEqual([`fs: skipped dangling symlink ${root}/dangling.txt`]);
    expect(listing.incompletePrefixes).toEqual([]);
  });
});

describe("FsSource fetch", () => {
  it("does not read a file replaced by a symlink to outside the roots after the listing", async () => {
    write(join(outside, "id_rsa"), "PRIVATE KEY");
    const notes = write(join(root, "notes.txt"), "my notes");
    const fs = source();
    const item = ref(await fs.list(), notes);
    rmSync(notes);
    symlinkSync(join(outside, "id_rsa"), notes);
    const err = await errorOf(() => fs.fetch(item));
    expect(isSyncError(err, "SYNC_E_ITEM_GONE")).toBe(true);
    expect((err as Error).message).toContain("symlink");
    const followed = await source({ followSymlinks: true }).fetch(item);
    expect(Buffer.from(followed.bytes).toString()).toBe("PRIVATE KEY");
  });

  it("does not read through a folder replaced by a symlink to outside the roots after the listing", async () => {
    write(join(outside, "sub", "a.txt"), "OUTSIDE");
    const a = write(join(root, "sub", "a.txt"), "inside");
    const fs = source();
    const item = ref(await fs.list(), a);
    renameSync(join(root, "sub"), join(tmp.path, "moved-away"));
    symlinkSync(join(outside, "sub"), join(root, "sub"));
    const err = await errorOf(() => fs.fetch(item));
    expect(isSyncError(err, "SYNC_E_ITEM_GONE")).toBe(true);
    expect((err as Error).message).toContain("outside the roots");
  });

  it("reads a root given as a symlink to a file", async () => {
    write(join(outside, "single.txt"), "single");
    const link = join(tmp.path, "single-link.txt");
    symlinkSync(join(outside, "single.txt"), link);
    const fs = source({ paths: [link] });
    const listing = await fs.list();
    expect(keys(listing)).toEqual([link]);
    expect(Buffer.from((await fs.fetch(ref(listing, link))).bytes).toString()).toBe("single");
  });

  it("refuses a path swapped for a device with SYNC_E_UNSUPPORTED_TYPE", async () => {
    const dev = write(join(root, "dev.txt"), "text");
    const fs = source({ followSymlinks: true });
    const item = ref(await fs.list(), dev);
    rmSync(dev);
    symlinkSync("/dev/zero", dev);
    const err = await errorOf(() => fs.fetch(item));
    expect(isSyncError(err, "SYNC_E_UNSUPPORTED_TYPE")).toBe(true);
    expect((err as Error).message).toBe(`${dev}: not a regular file (character device)`);
  });
});

describe("FsSource fingerprint", () => {
  it("is size:mtime µs:ctime µs:inode, with modifiedAt the mtime", async () => {
    const a = write(join(root, "a.txt"), "abcd");
    const st = statSync(a);
    const item = ref(await source().list(), a);
    expect(item.fingerprint).toBe(
      `4:${Math.round(st.mtimeMs * 1000)}:${Math.round(st.ctimeMs * 1000)}:${st.ino}`,
    );
    expect(item.modifiedAt).toBe(st.mtime.toISOString());
    expect(item.sizeBytes).toBe(4);
  });

  it("moves when same-size content is written back with the old mtime (ctime moves)", async () => {
    const a = write(join(root, "a.txt"), "aaaa");
    const mtime = 1_700_000_000;
    utimesSync(a, mtime, mtime);
    const fs = source();
    const first = ref(await fs.list(), a).fingerprint;
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(a, "bbbb");
    utimesSync(a, mtime, mtime);
    expect(statSync(a).mtimeMs).toBe(mtime * 1000);
    const second = ref(await fs.list(), a).fingerprint;
    expect(second).not.toBe(first);
    expect(readFileSync(a, "utf8")).toBe("bbbb");
  });
});

/**
 * Creates `levels` nested folders named `segment` below `dir` with a `deep.txt` at the bottom, by `cd`-ing
 * in a shell (each `mkdir` gets a short relative path), so the bottom lies beyond PATH_MAX. Returns the
 * path of the top folder; remove it with {@link removeDeep} (Node's `rmSync` cannot).
 */
function makeDeep(dir: string, levels: number, segment: string): string {
  const script =
    'cd "$1" && i=0; while [ "$i" -lt "$2" ]; do mkdir "$3" && cd -P "$3" || exit 1; i=$((i+1)); done; echo deep > deep.txt';
  const r = spawnSync("sh", ["-c", script, "sh", dir, String(levels), segment]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return join(dir, segment);
}

function removeDeep(path: string): void {
  spawnSync("rm", ["-rf", path]);
}

describe("FsSource messages", () => {
  it("name an errno once: the cause chain does not repeat it (nor the path)", async () => {
    const missing = join(tmp.path, "missing");
    const err = await errorOf(() => source({ paths: [missing] }).list());
    expect(isSyncError(err, "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
    const text = describeError(err);
    expect(text).toBe(`fs: root ${missing} is missing: ENOENT (no such file or directory)`);
    expect((err as Error).cause).toMatchObject({ code: "ENOENT", syscall: "stat" });
  });

  it("name every missing root, not only the first", async () => {
    const [a, b] = [join(tmp.path, "gone-a"), join(tmp.path, "gone-b")];
    const err = await errorOf(() => source({ paths: [a, b] }).list());
    expect(isSyncError(err, "SYNC_E_SOURCE_UNAVAILABLE")).toBe(true);
    expect(describeError(err)).toBe(
      `fs: root ${a} is missing: ENOENT (no such file or directory); ` +
        `fs: root ${b} is missing: ENOENT (no such file or directory)`,
    );
  });

  it("a folder beyond PATH_MAX is a short warning and an incomplete prefix; the rest is listed", async () => {
    write(join(root, "ok.txt"), "fine");
    const top = join(root, "d".repeat(200));
    try {
      makeDeep(root, 24, "d".repeat(200));
      const listing = await source().list();
      expect(keys(listing)).toEqual([`${root}/ok.txt`]);
      expect(listing.warnings).toHaveLength(1);
      const warning = listing.warnings[0] as string;
      expectCleanErrno(warning, "ENAMETOOLONG");
      expect(warning).toMatch(/^fs: cannot list folder .*…/);
      expect(warning.length).toBeLessThan(400);
      expect(listing.incompletePrefixes).toHaveLength(1);
      expect(listing.incompletePrefixes[0]?.startsWith(`${top}/`)).toBe(true);
    } finally {
      removeDeep(top);
    }
  });

  it("a path beyond PATH_MAX or a name beyond NAME_MAX fails that item alone, with a short message", async () => {
    for (const key of [`${root}/${"p/".repeat(2100)}x.txt`, `${root}/${"n".repeat(300)}.txt`]) {
      const err = await errorOf(() => source().fetch({ key, fingerprint: "" }));
      expect(isSyncError(err, "SYNC_E_READ_FAILED")).toBe(true);
      const text = describeError(err);
      expect(text.split("ENAMETOOLONG").length).toBe(2);
      expect(text.length).toBeLessThan(400);
    }
  });

  it("fetch names an item relative to the folder holding its root, telling same-named files apart", async () => {
    const a = write(join(root, "a", "bad.docx"));
    const b = write(join(root, "b", "bad.docx"));
    const o = write(join(outside, "bad.docx"));
    const fs = source({ paths: [root, outside] });
    const listing = await fs.list();
    const names = await Promise.all(
      [a, b, o].map(async (p) => (await fs.fetch(ref(listing, p))).displayName),
    );
    expect(names).toEqual(["root/a/bad.docx", "root/b/bad.docx", "outside/bad.docx"]);
    expect((await fs.fetch(ref(listing, a))).fileName).toBe("bad.docx");
    const single = source({ paths: [o] });
    expect((await single.fetch(ref(await single.list(), o))).displayName).toBe("bad.docx");
  });
});

/** The error `run` rejects with. */
function errorOf(run: () => Promise<unknown>): Promise<unknown> {
  return rejection(Promise.resolve().then(run));
}

describe("FsSource confirmGone", () => {
  it("confirms a key whose folder became a file (ENOTDIR), keeps one it cannot stat, and reads nothing", async () => {
    write(join(root, "sub", "a.txt"), "alpha");
    write(join(root, "b.txt"), "beta");
    const listing = await source().list();
    rmSync(join(root, "sub"), { recursive: true });
    writeFileSync(join(root, "sub"), "now a file");
    // A name longer than any file system allows: lstat fails with ENAMETOOLONG, which proves nothing.
    const tooLong = `${root}/${"n".repeat(300)}.txt`;
    const gone = await source().confirmGone([...listing.items.map((i) => i.key), tooLong]);
    expect([...gone]).toEqual([`${root}/sub/a.txt`]);
  });

  it("answers for many keys at once, in batches", async () => {
    const names = Array.from({ length: 100 }, (_, i) => join(root, `f${i}.txt`));
    for (const n of names) write(n, "x");
    for (const n of names.filter((_, i) => i % 3 === 0)) rmSync(n);
    const gone = await source().confirmGone(names);
    expect([...gone].sort()).toEqual(names.filter((_, i) => i % 3 === 0).sort());
  });
});

describe("FsSource confirmGone: gone from this source, not only from the disk", () => {
  it("confirms what the listing can no longer have; keeps a file it still indexes", async () => {
    const kept = write(join(root, "notes", "kept.md"));
    const deleted = join(root, "notes", "deleted.md");
    const excluded = write(join(root, "notes", "draft.txt"));
    const hidden = write(join(root, ".trash", "old.md"));
    const modules = write(join(root, "node_modules", "pkg", "readme.md"));
    const nowDir = join(root, "became-a-folder.md");
    mkdirSync(nowDir);
    const link = join(root, "link.md");
    symlinkSync(kept, link);
    const outsideKey = join(outside, "elsewhere.md");
    const s = source({ patterns: ["**/*.md"], ignore: ["**/ignored/**"] });
    const ignored = write(join(root, "ignored", "x.md"));
    const gone = await s.confirmGone([
      kept,
      deleted,
      excluded,
      hidden,
      modules,
      nowDir,
      link,
      outsideKey,
      ignored,
    ]);
    expect([...gone].sort()).toEqual(
      [deleted, excluded, hidden, modules, nowDir, link, outsideKey, ignored].sort(),
    );
  });

  it("a root that is not there (an unmounted disk) confirms nothing", async () => {
    const a = write(join(root, "a.md"));
    const s = source();
    rmSync(root, { recursive: true });
    expect(await s.confirmGone([a, join(root, "b.md")])).toEqual(new Set());
  });

  it("a followed symlink is kept", async () => {
    const target = write(join(outside, "t.md"));
    const link = join(root, "l.md");
    symlinkSync(target, link);
    expect(await source({ followSymlinks: true }).confirmGone([link])).toEqual(new Set());
  });
});
