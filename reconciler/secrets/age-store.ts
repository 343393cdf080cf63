/**
 * Secrets as age-encrypted files, `secrets/<name>.age` (ASCII-armored, readable by the `age` CLI
 * too), encrypted to the recipients in clawops.yaml. Every value decrypted here is registered with
 * the run's redactor before it is returned, so no output path can print it by accident.
 */
import { Decrypter, Encrypter, armor, identityToRecipient } from 'age-encryption';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClawopsError } from '../errors.ts';
import type { Redactor } from '../redact/redactor.ts';

export const SECRETS_DIR = 'secrets';
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const IDENTITY = /^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/;

export class SecretError extends ClawopsError<{ name?: string; exitCode?: 1 | 2 }> {
  readonly code = 'SECRET';
}

export const secretFile = (root: string, name: string): string => join(root, SECRETS_DIR, `${name}.age`);

export function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new SecretError(`"${name}" is not a valid secret name: use letters, digits, ".", "_" and "-", starting with a letter or digit`, { name });
  }
}

/** Identity strings from the text of an age identity file (`age-keygen` format, comments allowed). */
export function parseIdentities(text: string, source: string): string[] {
  const ids = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const bad = ids.find((l) => !IDENTITY.test(l));
  if (bad !== undefined || ids.length === 0) {
    throw new SecretError(`${source} does not hold an age identity (expected lines starting with AGE-SECRET-KEY-1)`, {});
  }
  return ids;
}

/**
 * The identities to decrypt with: `--identity FILE`, else `CLAWOPS_AGE_IDENTITY` (the key itself or
 * the path of a key file). Each identity is registered with the redactor.
 */
export async function loadIdentities(opts: { identityFile?: string | undefined; env: Readonly<Record<string, string | undefined>>; redactor: Redactor }): Promise<string[]> {
  let ids: string[];
  if (opts.identityFile) {
    const text = await readFile(opts.identityFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new SecretError(`cannot read identity file ${opts.identityFile}: ${e.code ?? e.message}`, {});
    });
    ids = parseIdentities(text, opts.identityFile);
  } else {
    const env = opts.env.CLAWOPS_AGE_IDENTITY?.trim();
    if (!env) {
      throw new SecretError('no age identity: set CLAWOPS_AGE_IDENTITY (the key or the path of a key file) or pass --identity FILE', {});
    }
    if (env.startsWith('AGE-SECRET-KEY-')) ids = parseIdentities(env, 'CLAWOPS_AGE_IDENTITY');
    else {
      const text = await readFile(env, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new SecretError(`CLAWOPS_AGE_IDENTITY names ${env}, which cannot be read: ${e.code ?? e.message}`, {});
      });
      ids = parseIdentities(text, env);
    }
  }
  for (const id of ids) opts.redactor.add(id, 'age-identity');
  return ids;
}

export async function encryptSecret(value: string, recipients: readonly string[]): Promise<string> {
  if (recipients.length === 0) throw new SecretError('clawops.yaml lists no age recipients (spec.secrets.recipients)', {});
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return armor.encode(await e.encrypt(value));
}

export async function decryptSecret(name: string, armored: string, identities: readonly string[], redactor: Redactor): Promise<string> {
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  let value: string;
  try {
    value = await d.decrypt(armor.decode(armored), 'text');
  } catch (e) {
    throw new SecretError(`cannot decrypt secret "${name}" with the given identity (${(e as Error).message}); it was encrypted to other recipients, or the file is damaged`, { name });
  }
  redactor.add(value, name);
  return value;
}

export async function readSecret(root: string, name: string, identities: readonly string[], redactor: Redactor): Promise<string> {
  checkSecretName(name);
  const armored = await readFile(secretFile(root, name), 'utf8').catch(() => {
    throw new SecretError(`no secret "${name}" (looked for ${SECRETS_DIR}/${name}.age); create it with \`clawops secrets set ${name}\``, { name });
  });
  return decryptSecret(name, armored, identities, redactor);
}

/** Writes several secret files so that either all of them change or none does. */
export async function writeSecretFiles(root: string, files: ReadonlyArray<{ name: string; armored: string }>): Promise<void> {
  await mkdir(join(root, SECRETS_DIR), { recursive: true });
  const temps: Array<[string, string]> = [];
  try {
    for (const f of files) {
      const target = secretFile(root, f.name);
      const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(temp, f.armored, { mode: 0o644, flag: 'wx' });
      temps.push([temp, target]);
    }
  } catch (e) {
    await Promise.all(temps.map(([t]) => rm(t, { force: true })));
    throw new SecretError(`cannot write secrets: ${(e as Error).message}`, {});
  }
  // Renames are atomic per file; everything that could fail (encryption, disk space) already happened.
  for (const [temp, target] of temps) await rename(temp, target);
}

export interface SecretInfo {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly modified: string;
  /** Recipient stanzas in the header: how many keys can open it. */
  readonly recipients: number;
}

export async function listSecrets(root: string): Promise<SecretInfo[]> {
  const dir = join(root, SECRETS_DIR);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.age')).sort();
  const out: SecretInfo[] = [];
  for (const f of names) {
    const path = join(dir, f);
    const [text, s] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    let recipients = 0;
    try {
      const header = new TextDecoder().decode(armor.decode(text).subarray(0, 4096)).split('\n---')[0] ?? '';
      recipients = header.split('\n').filter((l) => l.startsWith('-> ')).length;
    } catch {
      recipients = 0;
    }
    out.push({ name: f.slice(0, -4), file: `${SECRETS_DIR}/${f}`, bytes: s.size, modified: s.mtime.toISOString(), recipients });
  }
  return out;
}

export { identityToRecipient };
