/**
 * SSH signatures (openssh PROTOCOL.sshsig) exactly as git makes and checks them with
 * `gpg.format=ssh`: Ed25519, namespace `git`, SHA-512, armored at 70 columns like `ssh-keygen -Y
 * sign` (so a commit we sign has the OID native git would give it). Verification works from a
 * commit's raw bytes: isomorphic-git's `payload` only understands PGP and is wrong for these.
 * Trust comes from git's allowed-signers file format, validity windows included.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ClawopsError } from '../errors.ts';

export const SSHSIG_NAMESPACE = 'git';
const MAGIC = Buffer.from('SSHSIG');
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const ED25519 = 'ssh-ed25519';

// ── SSH wire format (RFC 4251 `string`: uint32 length, then the bytes) ──

export function sshString(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  out.set(bytes, 4);
  return out;
}

/** Reads SSH wire values in order; any overrun throws (the caller turns it into its own error). */
export class SshReader {
  private at = 0;
  private readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  u32(): number {
    if (this.at + 4 > this.buf.length) throw new RangeError('truncated');
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new RangeError('truncated');
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  string(): Buffer {
    return this.bytes(this.u32());
  }
  text(): string {
    return this.string().toString('latin1');
  }
  rest(): Buffer {
    return this.bytes(this.buf.length - this.at);
  }
  get done(): boolean {
    return this.at === this.buf.length;
  }
}

/** The public key blob of an Ed25519 key: string "ssh-ed25519" ‖ string pk. */
export const ed25519PublicBlob = (pk: Uint8Array): Buffer => Buffer.concat([sshString(ED25519), sshString(pk)]);

/** `SHA256:` + unpadded base64 of SHA-256(blob), as `ssh-keygen -l` prints it. */
export const fingerprintOf = (blob: Uint8Array): string => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

/** `<type> <base64>`, the form of allowed-signers lines, `.pub` files and GitHub's key upload. */
export const publicKeyLine = (blob: Uint8Array): string => `${new SshReader(Buffer.from(blob)).text()} ${Buffer.from(blob).toString('base64')}`;

function ed25519KeyFromBlob(blob: Uint8Array): KeyObject {
  const r = new SshReader(Buffer.from(blob));
  if (r.text() !== ED25519) throw new RangeError('not an Ed25519 key');
  const pk = r.string();
  if (pk.length !== 32 || !r.done) throw new RangeError('malformed Ed25519 key');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') }, format: 'jwk' });
}

/** PROTOCOL.sshsig §3: what the key actually signs (the message only through its hash). */
function signedData(namespace: string, hashAlgorithm: 'sha256' | 'sha512', message: Uint8Array): Buffer {
  const digest = createHash(hashAlgorithm).update(message).digest();
  return Buffer.concat([MAGIC, sshString(namespace), sshString(''), sshString(hashAlgorithm), sshString(digest)]);
}

function armor(blob: Buffer): string {
  const b64 = blob.toString('base64');
  const lines: string[] = [];
  // ssh-keygen wraps at 70 (PROTOCOL.sshsig suggests 76): byte identity with native git needs 70.
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

/**
 * Signs `message` like `ssh-keygen -Y sign -n <namespace>` (Ed25519 is deterministic, so the
 * output is byte-identical). `publicBlob` must be the key's own public blob.
 */
export function sshsigSign(message: Uint8Array, key: KeyObject, publicBlob: Uint8Array, namespace: string = SSHSIG_NAMESPACE): string {
  const sig = sign(null, signedData(namespace, 'sha512', message), key);
  const blob = Buffer.concat([
    MAGIC,
    Buffer.from([0, 0, 0, 1]),
    sshString(publicBlob),
    sshString(namespace),
    sshString(''),
    sshString('sha512'),
    sshString(Buffer.concat([sshString(ED25519), sshString(sig)])),
  ]);
  return armor(blob);
}

export interface ParsedSshsig {
  readonly publicKey: Buffer;
  readonly keyType: string;
  readonly namespace: string;
  readonly hashAlgorithm: string;
  readonly signatureType: string;
  readonly signature: Buffer;
}

/** Decodes an armored SSHSIG; throws a RangeError saying what is wrong with it. */
export function parseSshsig(armored: string): ParsedSshsig {
  const text = armored.trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END)) throw new RangeError('not an armored SSH signature');
  const b64 = text.slice(BEGIN.length, text.length - END.length).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new RangeError('the signature is not valid base64');
  const r = new SshReader(Buffer.from(b64, 'base64'));
  try {
    if (!r.bytes(6).equals(MAGIC)) throw new RangeError('bad magic');
    const version = r.u32();
    if (version !== 1) throw new RangeError(`unsupported SSHSIG version ${version}`);
    const publicKey = r.string();
    const namespace = r.text();
    r.string(); // reserved
    const hashAlgorithm = r.text();
    const sig = new SshReader(r.string());
    if (!r.done) throw new RangeError('trailing bytes');
    const signatureType = sig.text();
    const signature = sig.string();
    return { publicKey, keyType: new SshReader(publicKey).text(), namespace, hashAlgorithm, signatureType, signature };
  } catch (e) {
    throw e instanceof RangeError && e.message === 'truncated' ? new RangeError('the signature is truncated') : e;
  }
}

export type SshsigCheck =
  | { readonly ok: true; readonly publicKey: Buffer; readonly fingerprint: string }
  | { readonly ok: false; readonly reason: string; readonly fingerprint?: string };

/** Checks that `armored` is a valid signature of `message` by the key embedded in it (trust is a separate question). */
export function sshsigVerify(message: Uint8Array, armored: string, namespace: string = SSHSIG_NAMESPACE): SshsigCheck {
  let s: ParsedSshsig;
  try {
    s = parseSshsig(armored);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const fingerprint = fingerprintOf(s.publicKey);
  if (s.namespace !== namespace) return { ok: false, reason: `the signature is for namespace "${s.namespace}", not "${namespace}"`, fingerprint };
  if (s.hashAlgorithm !== 'sha512' && s.hashAlgorithm !== 'sha256') return { ok: false, reason: `unsupported hash algorithm "${s.hashAlgorithm}"`, fingerprint };
  if (s.keyType !== ED25519 || s.signatureType !== ED25519) return { ok: false, reason: `unsupported key type "${s.keyType}" (clawops verifies Ed25519 signatures)`, fingerprint };
  let good: boolean;
  try {
    good = s.signature.length === 64 && verify(null, signedData(namespace, s.hashAlgorithm, message), ed25519KeyFromBlob(s.publicKey), s.signature);
  } catch {
    good = false;
  }
  return good ? { ok: true, publicKey: s.publicKey, fingerprint } : { ok: false, reason: 'the signature does not match the signed content', fingerprint };
}

// ── Commits ──

const SIGNATURE_HEADERS = ['gpgsig', 'gpgsig-sha256'];

/**
 * Splits a raw commit object into the bytes its signature covers (the object without its
 * signature headers and their continuation lines, as git computes it) and the `gpgsig` text.
 */
export function splitSignedCommit(raw: Uint8Array): { payload: Uint8Array; signature: string | undefined } {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const blank = buf.indexOf('\n\n');
  const headersEnd = blank === -1 ? buf.length : blank + 1;
  const kept: Buffer[] = [];
  const sig: Buffer[] = [];
  let header = '';
  for (let at = 0; at < headersEnd; ) {
    const nl = buf.indexOf(0x0a, at);
    const next = nl === -1 || nl >= headersEnd ? headersEnd : nl + 1;
    const line = buf.subarray(at, next);
    at = next;
    // A line starting with a space continues the header above it.
    if (line[0] !== 0x20) {
      const sp = line.indexOf(0x20);
      header = (sp === -1 ? line : line.subarray(0, sp)).toString('latin1');
    }
    if (!SIGNATURE_HEADERS.includes(header)) kept.push(line);
    else if (header === 'gpgsig') sig.push(line.subarray(line[0] === 0x20 ? 1 : header.length + 1));
  }
  kept.push(buf.subarray(headersEnd));
  return { payload: Buffer.concat(kept), signature: sig.length ? Buffer.concat(sig).toString('utf8') : undefined };
}

/** The bytes a commit's signature covers. */
export const commitSignedPayload = (raw: Uint8Array): Uint8Array => splitSignedCommit(raw).payload;

// ── Allowed signers (ssh-keygen(1) "ALLOWED SIGNERS") ──

export class AllowedSignersError extends ClawopsError<{ file: string; line: number }> {
  readonly code = 'ALLOWED_SIGNERS';
}

export interface AllowedSigner {
  readonly line: number;
  /** The principals field as written (git prints it as the signer). */
  readonly principal: string;
  readonly principals: readonly string[];
  /** `namespaces="…"` patterns; absent means every namespace. */
  readonly namespaces?: readonly string[];
  readonly validAfter?: Date;
  readonly validBefore?: Date;
  readonly certAuthority: boolean;
  readonly keyType: string;
  readonly publicKey: Buffer;
  readonly fingerprint: string;
}

export interface AllowedSigners {
  readonly file: string;
  readonly entries: readonly AllowedSigner[];
}

const LINE_SHAPE = '`<principals> [namespaces="git",valid-after="YYYYMMDD",valid-before="YYYYMMDD"] ssh-ed25519 AAAA…`';

/** One whitespace-delimited field; a double-quoted run may contain spaces (quotes kept). */
function nextField(s: string, from: number): { field: string; next: number } | undefined {
  let i = from;
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  if (i >= s.length) return undefined;
  let j = i;
  let quoted = false;
  while (j < s.length && (quoted || (s[j] !== ' ' && s[j] !== '\t'))) {
    if (s[j] === '"') quoted = !quoted;
    j++;
  }
  if (quoted) throw new RangeError('a quote is not closed');
  return { field: s.slice(i, j), next: j };
}

/** `YYYYMMDD[HHMM[SS]][Z]`: local time unless suffixed with Z, like ssh-keygen. */
function parseSshTime(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  return m[7] ? new Date(Date.UTC(y, mo - 1, d, h, mi, s)) : new Date(y, mo - 1, d, h, mi, s);
}

function splitOptions(opts: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of opts) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const looksLikeKeyType = (s: string): boolean => /^(ssh-|ecdsa-|sk-ssh-|sk-ecdsa-)[A-Za-z0-9@.-]+$/.test(s);

/** Parses git's allowed-signers file (`gpg.ssh.allowedSignersFile`); a malformed line throws naming `file:line`. */
export function parseAllowedSigners(text: string, file: string): AllowedSigners {
  const entries: AllowedSigner[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = index + 1;
    const s = rawLine.replace(/\r$/, '');
    const trimmed = s.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const fail = (what: string): never => {
      throw new AllowedSignersError(`${file}:${line}: ${what}; each line reads ${LINE_SHAPE}`, { file, line });
    };
    const fields: string[] = [];
    try {
      for (let f = nextField(s, 0); f; f = nextField(s, f.next)) fields.push(f.field);
    } catch (e) {
      fail((e as Error).message);
    }
    const principalField = fields[0]!;
    const principal = principalField.startsWith('"') && principalField.endsWith('"') ? principalField.slice(1, -1) : principalField;
    const principals = principal.split(',');
    if (principals.some((p) => !p)) fail(`the principals "${principal}" contain an empty entry`);
    let at = 1;
    let optionText: string | undefined;
    if (fields[at] !== undefined && !looksLikeKeyType(fields[at]!)) optionText = fields[at++];
    const keyType = fields[at];
    const keyB64 = fields[at + 1];
    if (keyType === undefined || !looksLikeKeyType(keyType)) fail(keyType === undefined ? 'no public key' : `"${keyType}" is not an SSH key type`);
    if (keyB64 === undefined) fail('the public key is missing after the key type');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyB64!)) fail('the public key is not valid base64');
    const publicKey = Buffer.from(keyB64!, 'base64');
    let blobType: string | undefined;
    try {
      blobType = new SshReader(publicKey).text();
    } catch {
      blobType = undefined;
    }
    if (blobType !== keyType) fail(`the public key is not a ${keyType} key${blobType ? ` (it is ${blobType})` : ''}`);
    if (keyType === ED25519) {
      try {
        ed25519KeyFromBlob(publicKey);
      } catch {
        fail('the Ed25519 public key is malformed');
      }
    }
    let namespaces: string[] | undefined;
    let validAfter: Date | undefined;
    let validBefore: Date | undefined;
    let certAuthority = false;
    for (const opt of optionText === undefined ? [] : splitOptions(optionText)) {
      const eq = opt.indexOf('=');
      const name = (eq === -1 ? opt : opt.slice(0, eq)).toLowerCase();
      const value = eq === -1 ? undefined : opt.slice(eq + 1);
      if (name === 'cert-authority' && value === undefined) {
        certAuthority = true;
        continue;
      }
      if (!['namespaces', 'valid-after', 'valid-before'].includes(name)) fail(`unknown option "${opt}" (known: cert-authority, namespaces, valid-after, valid-before)`);
      if (value === undefined || value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) fail(`option ${name} needs a double-quoted value, e.g. ${name}="${name === 'namespaces' ? 'git' : '20260101'}"`);
      const inner = value!.slice(1, -1);
      if (name === 'namespaces') namespaces = inner.split(',').map((n) => n.trim());
      else {
        const t = parseSshTime(inner);
        if (!t) fail(`${name}="${inner}" is not a time: use YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, with a Z suffix for UTC`);
        if (name === 'valid-after') validAfter = t;
        else validBefore = t;
      }
    }
    entries.push({
      line,
      principal,
      principals,
      ...(namespaces ? { namespaces } : {}),
      ...(validAfter ? { validAfter } : {}),
      ...(validBefore ? { validBefore } : {}),
      certAuthority,
      keyType: keyType!,
      publicKey,
      fingerprint: fingerprintOf(publicKey),
    });
  });
  return { file, entries };
}

/** OpenSSH pattern lists: comma-separated globs (`*`, `?`); a `!` pattern that matches vetoes. */
export function matchPatternList(name: string, list: readonly string[]): boolean {
  let matched = false;
  for (const raw of list) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    if (re.test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export type CommitSignatureStatus =
  | { readonly status: 'good'; readonly principal: string; readonly fingerprint: string }
  | { readonly status: 'unsigned' }
  | { readonly status: 'bad'; readonly reason: string }
  | { readonly status: 'unknown-key'; readonly fingerprint: string }
  | { readonly status: 'key-not-valid-at-time'; readonly principal: string; readonly fingerprint: string };

/**
 * Verifies a commit's SSH signature from its raw object bytes, then whether an allowed signer
 * holds the key for namespace `git` at time `at` (git uses the committer time). Like git, the
 * principal is reported, not matched against the committer: that policy is the caller's.
 */
export function verifyCommitSignature(raw: Uint8Array, signers: AllowedSigners, at: Date): CommitSignatureStatus {
  const { payload, signature } = splitSignedCommit(raw);
  if (signature === undefined) return { status: 'unsigned' };
  const check = sshsigVerify(payload, signature, SSHSIG_NAMESPACE);
  if (!check.ok) return { status: 'bad', reason: check.reason };
  const holders = signers.entries.filter(
    (e) => !e.certAuthority && e.publicKey.equals(check.publicKey) && (!e.namespaces || matchPatternList(SSHSIG_NAMESPACE, e.namespaces)),
  );
  if (!holders.length) return { status: 'unknown-key', fingerprint: check.fingerprint };
  const t = Math.floor(at.getTime() / 1000);
  const valid = holders.find(
    (e) => (!e.validAfter || t >= Math.floor(e.validAfter.getTime() / 1000)) && (!e.validBefore || t <= Math.floor(e.validBefore.getTime() / 1000)),
  );
  return valid
    ? { status: 'good', principal: valid.principal, fingerprint: check.fingerprint }
    : { status: 'key-not-valid-at-time', principal: holders[0]!.principal, fingerprint: check.fingerprint };
}
