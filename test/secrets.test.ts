import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { readSecret } from '../reconciler/secrets/age-store.ts';
import { clawops } from './helpers/cli.ts';

const canary = inject('canary');
const tmp = mkdtempSync(join(tmpdir(), 'clawops-secrets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Key {
  identity: string;
  recipient: string;
  file: string;
}
async function key(name: string): Promise<Key> {
  const identity = await generateX25519Identity();
  const file = join(tmp, `${name}.txt`);
  writeFileSync(file, `# test identity ${name}\n${identity}\n`);
  return { identity, recipient: await identityToRecipient(identity), file };
}

const setRecipients = (dir: string, recipients: string[]) =>
  writeFileSync(join(dir, 'clawops.yaml'), `apiVersion: clawops.dev/v1\nkind: Repository\nspec:\n  secrets:\n    recipients: [${recipients.join(', ')}]\n`);

let alice: Key;
let bob: Key;
let dir: string;
beforeAll(async () => {
  [alice, bob] = await Promise.all([key('alice'), key('bob')]);
  dir = join(tmp, 'repo');
  cpSync(join(import.meta.dirname, '..', 'examples', 'fleet'), dir, { recursive: true });
  // Of the example's secrets, only gateway-token takes part here (it is brought under alice below).
  rmSync(join(dir, 'secrets', 'clawops-device-key.age'));
  setRecipients(dir, [alice.recipient]);
});

describe('clawops secrets', () => {
  it('set reads the value from stdin, writes an armored age file, and never echoes the value', async () => {
    const r = await clawops(['secrets', 'set', 'canary', '--repo', dir], { stdin: `${canary}\n` });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('✓ secrets/canary.age encrypted to 1 recipient\n');
    const file = readFileSync(join(dir, 'secrets', 'canary.age'), 'utf8');
    expect(file).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+-----END AGE ENCRYPTED FILE-----\n?$/);
    expect(file).not.toContain(canary);
    // The trailing newline of `echo` is not part of the value.
    expect(await readSecret(dir, 'canary', [alice.identity], new Redactor())).toBe(canary);
  });

  it('has no way to pass a value as an argument', async () => {
    const r = await clawops(['secrets', 'set', 'x', 'some-value', '--repo', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('too many arguments');
    expect(readdirSync(join(dir, 'secrets'))).not.toContain('x.age');
  });

  it('get decrypts with --identity or CLAWOPS_AGE_IDENTITY (key or file path)', async () => {
    await clawops(['secrets', 'set', 'db-password', '--repo', dir], { stdin: 'hunter2-but-longer' });
    for (const [args, env] of [
      [['--identity', alice.file], {}],
      [[], { CLAWOPS_AGE_IDENTITY: alice.identity }],
      [[], { CLAWOPS_AGE_IDENTITY: alice.file }],
    ] as const) {
      const r = await clawops(['secrets', 'get', 'db-password', '--repo', dir, ...args], { env });
      expect(r).toMatchObject({ code: 0, stdout: 'hunter2-but-longer', stderr: '' });
    }
  });

  it('get fails clearly with the wrong identity, no identity, or an unknown secret', async () => {
    const wrong = await clawops(['secrets', 'get', 'db-password', '--repo', dir, '--identity', bob.file]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('cannot decrypt secret "db-password" with the given identity');
    const none = await clawops(['secrets', 'get', 'db-password', '--repo', dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('set CLAWOPS_AGE_IDENTITY');
    const missing = await clawops(['secrets', 'get', 'nope', '--repo', dir, '--identity', alice.file]);
    expect(missing.stderr).toContain('no secret "nope" (looked for secrets/nope.age)');
    for (const r of [wrong, none, missing]) expect(r.stdout + r.stderr).not.toMatch(/\n\s+at |AGE-SECRET-KEY/);
  });

  it('list shows names and how many recipients can open each, as text and JSON', async () => {
    const r = await clawops(['secrets', 'list', '--repo', dir, '--json']);
    const { secrets } = JSON.parse(r.stdout) as { secrets: Array<{ name: string; recipients: number }> };
    expect(secrets.map((s) => [s.name, s.recipients])).toEqual([
      ['canary', 1],
      ['db-password', 1],
      ['gateway-token', 1],
    ]);
    const text = await clawops(['secrets', 'list', '--repo', dir]);
    expect(text.stdout.split('\n')[0]).toMatch(/^canary\s+1 recipient\s+\d{4}-/);
  });

  it('rotate re-encrypts every secret to the current recipients', async () => {
    // The example's gateway-token was encrypted to the demo key; bring it under alice first.
    const demo = join(import.meta.dirname, '..', 'examples', 'demo-age-identity.txt');
    const token = await readSecret(dir, 'gateway-token', [readFileSync(demo, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY'))!], new Redactor());
    await clawops(['secrets', 'set', 'gateway-token', '--repo', dir], { stdin: token });

    setRecipients(dir, [alice.recipient, bob.recipient]);
    const r = await clawops(['secrets', 'rotate', '--repo', dir, '--identity', alice.file]);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toBe('✓ re-encrypted 3 secrets to 2 recipients\n');
    expect(await readSecret(dir, 'canary', [bob.identity], new Redactor())).toBe(canary);

    setRecipients(dir, [bob.recipient]);
    await clawops(['secrets', 'rotate', '--repo', dir, '--identity', bob.file]);
    await expect(readSecret(dir, 'canary', [alice.identity], new Redactor())).rejects.toThrow(/cannot decrypt/);
    expect(await readSecret(dir, 'db-password', [bob.identity], new Redactor())).toBe('hunter2-but-longer');
  });

  it('rotate changes nothing when any secret cannot be decrypted', async () => {
    const before = Object.fromEntries(readdirSync(join(dir, 'secrets')).map((f) => [f, readFileSync(join(dir, 'secrets', f), 'utf8')]));
    setRecipients(dir, [alice.recipient]);
    const r = await clawops(['secrets', 'rotate', '--repo', dir, '--identity', alice.file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot decrypt secret');
    const after = Object.fromEntries(readdirSync(join(dir, 'secrets')).map((f) => [f, readFileSync(join(dir, 'secrets', f), 'utf8')]));
    expect(after).toEqual(before);
  });

  it('a decrypted value is masked on every output path of the run', async () => {
    const redactor = new Redactor();
    await readSecret(dir, 'canary', [bob.identity], redactor);
    const lines = [`token=${canary}`, JSON.stringify({ token: canary }), `Error: bad ${canary.toUpperCase()} vs ${canary}`];
    expect(lines.map((l) => redactor.redact(l))).toEqual([
      'token=[REDACTED:canary]',
      '{"token":"[REDACTED:canary]"}',
      `Error: bad ${canary.toUpperCase()} vs [REDACTED:canary]`,
    ]);
    expect(redactor.redact(`key ${alice.identity} leaked`)).toBe('key [REDACTED:age-identity] leaked');
  });
});
