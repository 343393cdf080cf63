/**
 * The key of the keyed hashes that stand for secret values. It lives in a local file, never in
 * git: next to the hashes it would let anyone brute-force weak secrets.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRET_HASH_KEY_FILE = 'secret-hash.key';

/** `<dir>/secret-hash.key` (32 random bytes, mode 600), created on first use. */
export async function loadOrCreateSecretHashKey(dir: string): Promise<Buffer> {
  const file = join(dir, SECRET_HASH_KEY_FILE);
  const existing = await readFile(file).catch(() => undefined);
  if (existing?.length === 32) return existing;
  const key = randomBytes(32);
  await mkdir(dir, { recursive: true });
  // `wx`: two processes racing to create it must agree on one key.
  await writeFile(file, key, { flag: 'wx', mode: 0o600 }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return readFile(file);
}
