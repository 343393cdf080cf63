/**
 * SSH signatures and signing keys against OpenSSH itself: our signatures are byte-identical to
 * `ssh-keygen -Y sign` and accepted by `ssh-keygen -Y verify`; keys load from every supported
 * format and bad ones fail with a fix and no key material; allowed-signers files parse like
 * ssh-keygen reads them (validity windows agree with `-Overify-time`), and bad lines name file:line.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signerFromEnv, signerFromKeyFile, signerFromKeyText, SigningKeyError, type CommitSigner } from '../reconciler/git/signing-key.ts';
import {
  AllowedSignersError,
  commitSignedPayload,
  matchPatternList,
  parseAllowedSigners,
  splitSignedCommit,
  sshsigVerify,
  verifyCommitSignature,
} from '../reconciler/git/sshsig.ts';
import { run } from './helpers/git-http-server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-sshsig-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const keygen = async (name: string, ...args: string[]): Promise<string> => {
  const file = join(tmp, name);
  const r = await run('ssh-keygen', ['-q', '-N', '', '-C', `${name}@test`, '-f', file, ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
  return file;
};

let keyFile: string;
let signer: CommitSigner;
beforeAll(async () => {
  keyFile = await keygen('bot', '-t', 'ed25519');
  signer = signerFromKeyText(readFileSync(keyFile, 'utf8'), keyFile);
});

/** A commit object as git stores it, signed by `s` (or not). */
function commitRaw(s: CommitSigner | undefined, message = 'audit: run\n'): Buffer {
  const head = `tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor bot <bot@example.com> 1767225600 +0000\ncommitter bot <bot@example.com> 1767225600 +0000\n`;
  if (!s) return Buffer.from(`${head}\n${message}`);
  const sig = s.sign(Buffer.from(`${head}\n${message}`)).trimEnd().split('\n').join('\n ');
  return Buffer.from(`${head}gpgsig ${sig}\n\n${message}`);
}

describe('SSHSIG', () => {
  it('is byte-identical to ssh-keygen -Y sign and accepted by ssh-keygen -Y verify', async () => {
    const msg = join(tmp, 'msg');
    writeFileSync(msg, 'tree 0000\n\nhello, audit\n');
    const native = await run('ssh-keygen', ['-Y', 'sign', '-n', 'git', '-f', keyFile, msg]);
    expect(native.code).toBe(0);
    const ours = signer.sign(readFileSync(msg));
    expect(ours).toBe(readFileSync(`${msg}.sig`, 'utf8'));

    writeFileSync(join(tmp, 'signers'), `bot@example.com ${signer.publicKey}\n`);
    writeFileSync(join(tmp, 'ours.sig'), ours);
    const verified = await run('ssh-keygen', ['-Y', 'verify', '-f', join(tmp, 'signers'), '-I', 'bot@example.com', '-n', 'git', '-s', join(tmp, 'ours.sig')], { input: readFileSync(msg) });
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('rejects another message, another namespace and damaged armor', async () => {
    const msg = Buffer.from('hello\n');
    const sig = signer.sign(msg);
    expect(sshsigVerify(msg, sig)).toMatchObject({ ok: true, fingerprint: signer.fingerprint });
    expect(sshsigVerify(Buffer.from('hellO\n'), sig)).toMatchObject({ ok: false, reason: expect.stringContaining('does not match') });

    const file = join(tmp, 'ns-msg');
    writeFileSync(file, msg);
    expect((await run('ssh-keygen', ['-Y', 'sign', '-n', 'file', '-f', keyFile, file])).code).toBe(0);
    expect(sshsigVerify(msg, readFileSync(`${file}.sig`, 'utf8'))).toMatchObject({ ok: false, reason: expect.stringContaining('namespace "file"') });

    const lines = sig.split('\n');
    expect(sshsigVerify(msg, [lines[0], lines[1], lines.at(-2)].join('\n'))).toMatchObject({ ok: false, reason: expect.stringContaining('truncated') });
    expect(sshsigVerify(msg, 'not a signature')).toMatchObject({ ok: false });
  });
});

describe('commit signatures', () => {
  it('strips exactly the gpgsig header and its continuation lines', () => {
    const unsigned = commitRaw(undefined, 'msg\n\ngpgsig in the message stays\n');
    const signed = commitRaw(signer, 'msg\n\ngpgsig in the message stays\n');
    expect(Buffer.from(commitSignedPayload(signed)).equals(unsigned)).toBe(true);
    expect(splitSignedCommit(signed).signature).toBe(signer.sign(unsigned));
    expect(splitSignedCommit(unsigned).signature).toBeUndefined();
  });

  it('reports good, unsigned, bad, unknown-key and key-not-valid-at-time', async () => {
    const other = signerFromKeyText(readFileSync(await keygen('other', '-t', 'ed25519'), 'utf8'), 'other');
    const signers = parseAllowedSigners(`bot@example.com,ops@example.com namespaces="git" ${signer.publicKey}\n`, 'allowed');
    const at = new Date('2026-01-01T00:00:00Z');
    expect(verifyCommitSignature(commitRaw(signer), signers, at)).toEqual({ status: 'good', principal: 'bot@example.com,ops@example.com', fingerprint: signer.fingerprint });
    expect(verifyCommitSignature(commitRaw(undefined), signers, at)).toEqual({ status: 'unsigned' });
    expect(verifyCommitSignature(commitRaw(other), signers, at)).toEqual({ status: 'unknown-key', fingerprint: other.fingerprint });

    const tampered = commitRaw(signer);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 1;
    expect(verifyCommitSignature(tampered, signers, at)).toMatchObject({ status: 'bad' });

    const fileOnly = parseAllowedSigners(`bot@example.com namespaces="file" ${signer.publicKey}\n`, 'allowed');
    expect(verifyCommitSignature(commitRaw(signer), fileOnly, at).status).toBe('unknown-key');

    const expired = parseAllowedSigners(`bot@example.com valid-before="20251231Z" ${signer.publicKey}\n`, 'allowed');
    expect(verifyCommitSignature(commitRaw(signer), expired, at)).toEqual({ status: 'key-not-valid-at-time', principal: 'bot@example.com', fingerprint: signer.fingerprint });
  });

  it('agrees with ssh-keygen -Y verify on validity windows', async () => {
    const payload = Buffer.from('a payload\n');
    const sigFile = join(tmp, 'window.sig');
    writeFileSync(sigFile, signer.sign(payload));
    const raw = commitRaw(signer);
    const windows = ['valid-after="20260101Z"', 'valid-before="20260101Z"', 'valid-after="20260101000000Z",valid-before="20260102Z"', 'valid-after="202601011200Z"'];
    const times = ['20251231235959Z', '20260101000000Z', '20260101120000Z', '20260102000001Z'];
    const seen = new Set<string>();
    for (const window of windows) {
      const text = `bot@example.com ${window} ${signer.publicKey}\n`;
      const file = join(tmp, 'window-signers');
      writeFileSync(file, text);
      for (const t of times) {
        const native = await run('ssh-keygen', ['-Y', 'verify', '-f', file, '-I', 'bot@example.com', '-n', 'git', '-s', sigFile, `-Overify-time=${t}`], { input: payload });
        const at = new Date(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}Z`);
        const ours = verifyCommitSignature(raw, parseAllowedSigners(text, file), at).status;
        expect({ window, t, ours }).toEqual({ window, t, ours: native.code === 0 ? 'good' : 'key-not-valid-at-time' });
        seen.add(ours);
      }
    }
    expect([...seen].sort()).toEqual(['good', 'key-not-valid-at-time']);
  });
});

describe('allowed signers', () => {
  it('reads comments, options, quoted principals and several keys', () => {
    const text = [
      '# audit signers',
      '',
      `  bot@example.com ${signer.publicKey} the bot's key`,
      `"ops team@example.com",*@ops.example.com namespaces="git,file",valid-after="20260101",valid-before="20270101Z" ${signer.publicKey}`,
      `ca@example.com cert-authority ${signer.publicKey}`,
      'rsa@example.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ==',
    ].join('\n');
    const { entries } = parseAllowedSigners(text, 'signers');
    expect(entries.map((e) => e.line)).toEqual([3, 4, 5, 6]);
    expect(entries[0]).toMatchObject({ principal: 'bot@example.com', certAuthority: false, fingerprint: signer.fingerprint });
    expect(entries[0]!.namespaces).toBeUndefined();
    expect(entries[1]).toMatchObject({ principals: ['"ops team@example.com"', '*@ops.example.com'], namespaces: ['git', 'file'] });
    expect(entries[1]!.validAfter!.getTime()).toBe(new Date(2026, 0, 1).getTime());
    expect(entries[1]!.validBefore!.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(entries[2]!.certAuthority).toBe(true);
    expect(entries[3]!.keyType).toBe('ssh-rsa');
    // A CA line never vouches for a plain key.
    const caOnly = parseAllowedSigners(`ca@example.com cert-authority ${signer.publicKey}\n`, 'signers');
    expect(verifyCommitSignature(commitRaw(signer), caOnly, new Date()).status).toBe('unknown-key');
  });

  it.each([
    [`bot@example.com`, 'no public key'],
    [`bot@example.com ssh-ed25519`, 'missing after the key type'],
    [`bot@example.com ssh-ed25519 not*base64`, 'not valid base64'],
    [`bot@example.com ssh-rsa KEY`, 'not a ssh-rsa key'],
    [`bot@example.com frobnicate ssh-ed25519 KEY`, 'unknown option "frobnicate"'],
    [`bot@example.com namespaces=git ssh-ed25519 KEY`, 'needs a double-quoted value'],
    [`bot@example.com valid-after="2026-01-01" ssh-ed25519 KEY`, 'is not a time'],
    [`bot@example.com valid-before="20261301" ssh-ed25519 KEY`, 'is not a time'],
    [`"bot@example.com ssh-ed25519 KEY`, 'quote is not closed'],
    [`bot@example.com,,x@example.com ssh-ed25519 KEY`, 'empty entry'],
  ])('rejects %s with file:line and the expected shape', (line, why) => {
    const text = `# ok\nbot@example.com ${signer.publicKey}\n${line.replace('KEY', signer.publicKey.split(' ')[1]!)}\n`;
    let error: unknown;
    try {
      parseAllowedSigners(text, '.github/allowed_signers');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AllowedSignersError);
    const e = error as AllowedSignersError;
    expect(e.data).toEqual({ file: '.github/allowed_signers', line: 3 });
    expect(e.message).toMatch(/^\.github\/allowed_signers:3: /);
    expect(e.message).toContain(why);
    expect(e.message).toContain('ssh-ed25519 AAAA…');
  });

  it('matches OpenSSH pattern lists', () => {
    expect(matchPatternList('git', ['file', 'g*'])).toBe(true);
    expect(matchPatternList('git', ['*', '!git'])).toBe(false);
    expect(matchPatternList('git', ['gi?'])).toBe(true);
    expect(matchPatternList('git', ['file'])).toBe(false);
  });
});

describe('signing keys', () => {
  it('loads an OpenSSH key with the public key and fingerprint ssh-keygen reports', async () => {
    const pub = readFileSync(`${keyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    expect(signer.publicKey).toBe(pub);
    const fp = await run('ssh-keygen', ['-l', '-f', `${keyFile}.pub`]);
    expect(fp.stdout.split(' ')[1]).toBe(signer.fingerprint);
  });

  it('loads a PKCS#8 PEM key, and OpenSSH accepts what it signs', async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const s = signerFromKeyText(pem, 'pem');
    expect(s.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=*$/);
    const payload = Buffer.from('pkcs8 payload\n');
    writeFileSync(join(tmp, 'pk8.sig'), s.sign(payload));
    writeFileSync(join(tmp, 'pk8-signers'), `k@example.com ${s.publicKey}\n`);
    const r = await run('ssh-keygen', ['-Y', 'verify', '-f', join(tmp, 'pk8-signers'), '-I', 'k@example.com', '-n', 'git', '-s', join(tmp, 'pk8.sig')], { input: payload });
    expect(r.code, r.stderr).toBe(0);
  });

  it('loads from CLAWOPS_SIGNING_KEY, then CLAWOPS_SIGNING_KEY_FILE, else none', async () => {
    const text = readFileSync(keyFile, 'utf8');
    expect((await signerFromEnv({ CLAWOPS_SIGNING_KEY: text }))?.fingerprint).toBe(signer.fingerprint);
    expect((await signerFromEnv({ CLAWOPS_SIGNING_KEY_FILE: keyFile }))?.fingerprint).toBe(signer.fingerprint);
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect((await signerFromEnv({ CLAWOPS_SIGNING_KEY: pem, CLAWOPS_SIGNING_KEY_FILE: keyFile }))?.fingerprint).not.toBe(signer.fingerprint);
    expect(await signerFromEnv({ CLAWOPS_SIGNING_KEY: '  ' })).toBeUndefined();
    await expect(signerFromEnv({ CLAWOPS_SIGNING_KEY_FILE: join(tmp, 'nope') })).rejects.toThrow(/cannot read the signing key .*nope.*ENOENT/);
  });

  it('refuses unusable keys with what to do, and never echoes key material', async () => {
    const withPass = join(tmp, 'pass');
    expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-pass', '-f', withPass])).code).toBe(0);
    const rsa = await keygen('rsa', '-t', 'rsa', '-b', '2048');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const encrypted = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
    const cases: Array<[string, RegExp]> = [
      [readFileSync(withPass, 'utf8'), /passphrase.*ssh-keygen -p -N ""/],
      [readFileSync(rsa, 'utf8'), /ssh-rsa key; clawops signs audit commits with Ed25519: create one with `ssh-keygen -t ed25519 -N ""/],
      [ec, /ec key; .*Ed25519/],
      [encrypted, /encrypted PKCS#8 key/],
      [readFileSync(`${keyFile}.pub`, 'utf8'), /holds a public key/],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n', /not a valid OpenSSH private key/],
      ['hello', /does not hold a private key/],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        signerFromKeyText(text, 'KEYSOURCE');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SigningKeyError);
      const e = error as SigningKeyError;
      expect(e.code).toBe('SIGNING_KEY');
      expect(e.message).toMatch(message);
      expect(e.message).toContain('KEYSOURCE');
      // No line of the key's body (base64) may appear in the message.
      for (const line of text.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(e.message).not.toContain(line.slice(0, 20));
    }
    await expect(signerFromKeyFile(withPass)).rejects.toThrow(/passphrase/);
  });
});
