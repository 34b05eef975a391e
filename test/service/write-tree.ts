import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes `files` small Markdown files spread over `folders` folders under `root`; returns their paths. */
export function writeTree(root: string, files: number, folders: number): string[] {
  const paths: string[] = [];
  for (let d = 0; d < folders; d++) mkdirSync(join(root, `folder-${d}`), { recursive: true });
  for (let i = 0; i < files; i++) {
    const path = join(root, `folder-${i % folders}`, `note-${i}.md`);
    writeFileSync(path, `# Note ${i}\n\nSmall file number ${i} of ${files}.\n`);
    paths.push(path);
  }
  return paths;
}
