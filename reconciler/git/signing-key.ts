/**
 * The Ed25519 key that signs audit commits, loaded from an unencrypted OpenSSH private key, a
 * PKCS#8 PEM, or the environment (`CLAWOPS_SIGNING_KEY` holds the key, `CLAWOPS_SIGNING_KEY_FILE`
 * its path). Errors name where the key came from and what to do, never any key material.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ClawopsError } from '../errors.ts';
import { ed25519PublicBlob, fingerprintOf, publicKeyLine, SshReader, sshsigSign } from './sshsig.ts';

export const SIGNING_KEY_ENV = 'CLAWOPS_SIGNING_KEY';
export const SIGNING_KEY_FILE_ENV = 'CLAWOPS_SIGNING_KEY_FILE';

export interface CommitSigner {
  /** `ssh-ed25519 AAAA…`: what goes in an allowed-signers file or GitHub's signing keys. */
  readonly publicKey: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  /** An armored SSHSIG (namespace `git`, sha512) of `payload`. */
  sign(payload: Uint8Array): string;
}

export class SigningKeyError extends ClawopsError<{ source: string }> {
  readonly code = 'SIGNING_KEY';
}

const MAKE_KEY = 'create one with `ssh-keygen -t ed25519 -N "" -f clawops-audit-key`';
const OPENSSH = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/;

function signerFor(key: KeyObject, pk: Buffer): CommitSigner {
  const blob = ed25519PublicBlob(pk);
  return {
    publicKey: publicKeyLine(blob),
    fingerprint: fingerprintOf(blob),
    sign: (payload) => sshsigSign(payload, key, blob),
  };
}

/** PROTOCOL.key: `openssh-key-v1\0`, cipher, kdf, kdf options, the public keys, then the private section. */
function fromOpenSSH(body: string, source: string): CommitSigner {
  const fail = (what: string): never => {
    throw new SigningKeyError(`the signing key in ${source} ${what}`, { source });
  };
  const buf = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const magic = Buffer.from('openssh-key-v1\0');
  if (!buf.subarray(0, magic.length).equals(magic)) fail('is not a valid OpenSSH private key (bad header)');
  try {
    const r = new SshReader(buf.subarray(magic.length));
    const cipher = r.text();
    const kdf = r.text();
    r.string();
    if (cipher !== 'none' || kdf !== 'none') {
      fail(`is protected by a passphrase, which clawops cannot type for you: remove it (\`ssh-keygen -p -N "" -f KEYFILE\`) or ${MAKE_KEY}, and keep the key in a CI secret`);
    }
    if (r.u32() !== 1) fail('holds several keys; give it exactly one Ed25519 key');
    const type = new SshReader(r.string()).text();
    if (type !== 'ssh-ed25519') fail(`is a ${type} key; clawops signs audit commits with Ed25519: ${MAKE_KEY}`);
    const priv = new SshReader(r.string());
    if (priv.u32() !== priv.u32()) fail('is damaged (its check bytes differ)');
    priv.text();
    const pk = priv.string();
    const sk = priv.string();
    if (pk.length !== 32 || sk.length !== 64 || !sk.subarray(32).equals(pk)) fail('is damaged (its Ed25519 key parts do not agree)');
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: sk.subarray(0, 32).toString('base64url'), x: pk.toString('base64url') }, format: 'jwk' });
    // The JWK import does not check that x belongs to d; a mismatch would sign under a wrong key id.
    const derived = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x ?? '', 'base64url');
    if (!derived.equals(pk)) fail('is damaged (its public key does not belong to its private key)');
    return signerFor(key, pk);
  } catch (e) {
    if (e instanceof SigningKeyError) throw e;
    return fail('is not a valid OpenSSH private key (truncated or malformed)');
  }
}

function fromPkcs8(pem: string, source: string): CommitSigner {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new SigningKeyError(`the signing key in ${source} is not a valid PKCS#8 PEM private key`, { source });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`the signing key in ${source} is a${key.asymmetricKeyType === 'ec' ? 'n' : ''} ${key.asymmetricKeyType ?? 'unknown'} key; clawops signs audit commits with Ed25519: ${MAKE_KEY}`, { source });
  }
  return signerFor(key, Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x ?? '', 'base64url'));
}

/** A signer from the text of a private key file; `source` names it in errors (a path, an env var, a secret). */
export function signerFromKeyText(text: string, source: string): CommitSigner {
  const openssh = OPENSSH.exec(text);
  if (openssh) return fromOpenSSH(openssh[1]!, source);
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new SigningKeyError(
      `the signing key in ${source} is an encrypted PKCS#8 key, and clawops cannot type its passphrase: decrypt it (\`openssl pkey -in KEY -out KEY.pem\`) or ${MAKE_KEY}`,
      { source },
    );
  }
  if (text.includes('-----BEGIN PRIVATE KEY-----')) return fromPkcs8(text, source);
  const other = /-----BEGIN ([A-Z ]+) PRIVATE KEY-----/.exec(text);
  if (other) throw new SigningKeyError(`the signing key in ${source} is an ${other[1]} key; clawops signs audit commits with Ed25519: ${MAKE_KEY}`, { source });
  if (/^\s*(ssh-|ecdsa-|sk-)\S+ AAAA/.test(text)) {
    throw new SigningKeyError(`${source} holds a public key; clawops needs the private key (the file without .pub)`, { source });
  }
  throw new SigningKeyError(`${source} does not hold a private key (expected an OpenSSH or PKCS#8 PEM Ed25519 key); ${MAKE_KEY}`, { source });
}

export async function signerFromKeyFile(path: string, source = path): Promise<CommitSigner> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new SigningKeyError(`cannot read the signing key ${source}: ${e.code ?? e.message}`, { source });
  });
  return signerFromKeyText(text, source);
}

/** `CLAWOPS_SIGNING_KEY` (the key text), else `CLAWOPS_SIGNING_KEY_FILE` (its path), else undefined. */
export async function signerFromEnv(env: Readonly<Record<string, string | undefined>>): Promise<CommitSigner | undefined> {
  const text = env[SIGNING_KEY_ENV];
  if (text?.trim()) return signerFromKeyText(text, SIGNING_KEY_ENV);
  const file = env[SIGNING_KEY_FILE_ENV]?.trim();
  if (file) return signerFromKeyFile(file, `${file} (${SIGNING_KEY_FILE_ENV})`);
  return undefined;
}
