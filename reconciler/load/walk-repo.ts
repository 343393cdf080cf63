/**
 * Finds the YAML files of a fleet repo in any layout. Skips `.git`, `node_modules`, every dot-folder
 * and the `ignore` globs of clawops.yaml; follows symlinks only while they stay inside the repo.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import picomatch from 'picomatch';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { LoadLimits } from './limits.ts';

export interface RepoFile {
  /** Relative to the repo root, `/`-separated. */
  readonly path: string;
  readonly absolute: string;
  readonly size: number;
}

const YAML_FILE = /\.ya?ml$/i;
const toPosix = (p: string) => p.split(sep).join('/');

export async function walkRepo(root: string, ignore: readonly string[], limits: LoadLimits): Promise<{ files: RepoFile[]; diagnostics: Diagnostic[] }> {
  const rootReal = await realpath(root);
  const ignored = ignore.length ? picomatch([...ignore], { dot: true }) : () => false;
  const files: RepoFile[] = [];
  const diagnostics: Diagnostic[] = [];
  const visited = new Set<string>([rootReal]);
  const inside = (p: string) => p === rootReal || p.startsWith(rootReal + sep);

  const queue: string[] = [root];
  while (queue.length) {
    const dir = queue.shift()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      diagnostics.push({ severity: 'error', code: 'unreadable-file', file: toPosix(relative(root, dir)) || '.', message: `cannot read this folder: ${(e as NodeJS.ErrnoException).code ?? 'error'}` });
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const absolute = join(dir, entry.name);
      const rel = toPosix(relative(root, absolute));
      if (ignored(rel) || ignored(rel + '/')) continue;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(absolute);
        } catch {
          diagnostics.push({ severity: 'error', code: 'unreadable-file', file: rel, message: 'this symlink points at nothing', hint: 'remove the link or restore its target' });
          continue;
        }
        if (!inside(target)) {
          if (isDir || YAML_FILE.test(entry.name) || (await stat(target).then((s) => s.isDirectory(), () => false))) {
            diagnostics.push({
              severity: 'error',
              code: 'symlink-outside-repo',
              file: rel,
              message: 'this symlink points outside the repo, so its content is not under review',
              hint: 'copy the file into the repo instead of linking to it',
            });
          }
          continue;
        }
        const s = await stat(target);
        isDir = s.isDirectory();
        isFile = s.isFile();
        if (isDir && visited.has(target)) continue;
        if (isDir) visited.add(target);
      }
      if (isDir) queue.push(absolute);
      else if (isFile && YAML_FILE.test(entry.name)) {
        const size = (await lstat(absolute).then((s) => (s.isSymbolicLink() ? stat(absolute) : s))).size;
        files.push({ path: rel, absolute, size });
        if (files.length > limits.maxFiles) {
          diagnostics.push({ severity: 'error', code: 'file-too-large', file: rel, message: `more than ${limits.maxFiles} YAML files in the repo`, hint: 'add folders that hold no clawops resources to `ignore` in clawops.yaml' });
          return { files: [], diagnostics };
        }
      }
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, diagnostics };
}
