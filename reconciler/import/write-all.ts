/**
 * Writes a set of new files so that either all of them appear or none does, and never replaces a
 * file that exists: everything goes to temporary files first, then each is hard-linked to its
 * name, which fails instead of overwriting if someone created that name in the meantime.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, rmdir, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ClawopsError } from '../errors.ts';

export interface OutputFile {
  /** Absolute path. */
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
}

export class ImportWriteError extends ClawopsError<{ path?: string }> {
  readonly code = 'IMPORT_WRITE';
}

const exists = (p: string) => lstat(p).then(
  () => true,
  () => false,
);

/** The planned paths that already exist (files, folders or links). */
export async function existingPaths(files: readonly OutputFile[]): Promise<string[]> {
  const found: string[] = [];
  for (const f of files) if (await exists(f.path)) found.push(f.path);
  return found;
}

/** Creates `dir` and its missing parents; returns the ones it created, deepest last. */
async function makeDirs(dir: string, created: string[]): Promise<void> {
  if (await exists(dir)) return;
  await makeDirs(dirname(dir), created);
  await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  created.push(dir);
}

/** Publishes `temp` as `target` unless `target` exists. */
async function publish(temp: string, target: string): Promise<void> {
  try {
    await link(temp, target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Some file systems (FAT, some network mounts) have no hard links; an exclusive copy also refuses to overwrite.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    await copyFile(temp, target, constants.COPYFILE_EXCL);
  }
}

export async function writeAllOrNothing(files: readonly OutputFile[]): Promise<void> {
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new ImportWriteError(`two imported files would both be written to ${f.path}`, { path: f.path });
    seen.add(f.path);
  }
  const createdDirs: string[] = [];
  const temps: Array<{ temp: string; target: string }> = [];
  const published: string[] = [];
  const undo = async () => {
    await Promise.all([...temps.map((t) => unlink(t.temp).catch(() => undefined)), ...published.map((p) => unlink(p).catch(() => undefined))]);
    for (const d of createdDirs.reverse()) await rmdir(d).catch(() => undefined);
  };
  let current: string | undefined;
  try {
    for (const f of files) {
      current = f.path;
      await makeDirs(dirname(f.path), createdDirs);
      const temp = join(dirname(f.path), `.${basename(f.path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(temp, f.content, { flag: 'wx', mode: f.mode ?? 0o644 });
      temps.push({ temp, target: f.path });
    }
    for (const t of temps) {
      current = t.target;
      await publish(t.temp, t.target);
      published.push(t.target);
    }
  } catch (e) {
    await undo();
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'it appeared while importing' : (e as Error).message;
    throw new ImportWriteError(`cannot write ${current ?? 'the imported files'} (${why}); nothing was written`, current ? { path: current } : {});
  }
  await Promise.all(temps.map((t) => unlink(t.temp).catch(() => undefined)));
}
