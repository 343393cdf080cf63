/**
 * Masks personal data and credentials in anything about to be written to the audit branch
 * (DESIGN §6): e-mail addresses, phone numbers, bearer tokens, provider API keys, JWTs, private
 * keys, credentials in URLs and `key=value` text, and every value under a secret key or a path the
 * caller marks secret. A mask keeps a hint of what was there (`[email]`, `[jwt]`, `[secret]`), so
 * an auditor still sees that something was, and what kind.
 *
 * Known secret values of the run (and always-secret shapes such as age identities) are the
 * Redactor's job; the masker runs it too, so one pass covers both.
 *
 * Masking is deliberately one-way and shape-based: it errs toward hiding. The non-hits it must not
 * touch (ISO dates, versions, UUIDs, ports, hashes, timestamps) are pinned by
 * test/fixtures/pii-corpus.yaml.
 */
import { Redactor } from '../redact/redactor.ts';

type Rule = readonly [RegExp, string | ((match: string, ...groups: string[]) => string)];

const digitCount = (s: string): number => s.replace(/\D/g, '').length;

/** Keeps a phone-shaped match only when its digit count is that of a phone number. */
const phone =
  (min: number, max: number) =>
  (m: string): string => {
    const n = digitCount(m);
    return n >= min && n <= max ? '[phone]' : m;
  };

// File extensions that look like a top-level domain after `@`: `icon@2x.png` is not an address.
const NOT_TLD = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'js', 'mjs', 'cjs', 'ts', 'json', 'yaml', 'yml', 'md', 'txt', 'css', 'html', 'pdf', 'zip', 'gz', 'tgz', 'tar', 'lock', 'log', 'py', 'sh', 'toml', 'wasm']);

/** Shapes that are secret or personal wherever they appear, most specific first. */
const TEXT_RULES: readonly Rule[] = [
  // Private keys, also cut off before their END line.
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|$)/g, '[private-key]'],
  // JWT / JWS: base64url of `{"` twice; an empty signature (alg none) still carries the claims.
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[jwt]'],
  [/\bsk-ant-[A-Za-z0-9_-]{20,}/g, '[anthropic-key]'],
  [/\bsk-or-(?:v\d-)?[A-Za-z0-9_-]{20,}/g, '[openrouter-key]'],
  [/\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}/g, '[stripe-key]'],
  // OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`); a digit is required so `sk-this-is-prose` is left alone.
  [/\bsk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}/g, '[openai-key]'],
  [/\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b/g, '[github-token]'],
  [/\bgithub_pat_[A-Za-z0-9_]{22,}/g, '[github-token]'],
  [/\bglpat-[A-Za-z0-9_-]{20,}/g, '[gitlab-token]'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, '[slack-token]'],
  [/\bxapp-\d-[A-Za-z0-9-]{10,}/g, '[slack-token]'],
  [/https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g, '[slack-webhook]'],
  [/https:\/\/(?:ptb\.|canary\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]+/g, '[discord-webhook]'],
  [/\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g, '[aws-key]'],
  [/\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g, '[google-key]'],
  [/\bnpm_[A-Za-z0-9]{36}\b/g, '[npm-token]'],
  [/\bhf_[A-Za-z0-9]{30,}\b/g, '[huggingface-token]'],
  [/\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b/g, '[sendgrid-key]'],
  // Telegram bot token: `<bot id>:<35 characters>`.
  [/\b\d{6,12}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/g, '[telegram-token]'],
  // Discord bot token: three base64url parts, the first the bot id.
  [/\b[MNO][A-Za-z0-9]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b/g, '[discord-token]'],
  // `Bearer …` / `Basic …`: the credential has a digit or a base64 symbol, so prose ("bearer tokens") stays.
  [/\b(Bearer)\s+(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [bearer]'],
  [/\b(Basic)\s+(?=[A-Za-z0-9+/=]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}/gi, '$1 [basic-auth]'],
  // Credentials in URLs: `scheme://user:password@host` and secret query parameters.
  [/\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s:/@]{1,256}):([^\s@/]{1,256})@/gi, '$1$2:[secret]@'],
  [/([?&](?:access_token|refresh_token|id_token|token|api_key|apikey|key|secret|client_secret|password|passwd|sig|signature|auth)=)[^&\s#"']+/gi, '$1[secret]'],
];

const EMAIL = /(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+'-]*@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![\w-]|\.[A-Za-z0-9])(:)?/g;

const PHONE_RULES: readonly Rule[] = [
  // International: `+` country code, then groups (spaces, dots, dashes, a bracketed area code).
  [/(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}(?![\w.:/-]?\d)/g, phone(8, 15)],
  // North American: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567.
  [/(?<![\w.+/:-])(?:\(\d{3}\)[ ]?|\d{3}([ .-]))\d{3}[ .-]\d{4}(?![\w.:/-]?\d)/g, phone(10, 10)],
  // National with a trunk 0, one separator throughout: 020 7946 0958, 06 12 34 56 78, 030 12345678.
  [/(?<![\w.+/:-])0\d{1,4}([ .-])\d{2,8}(?:\1\d{2,8}){0,3}(?![\w.:/-]?\d)/g, phone(9, 12)],
];

/** `key: value` / `key=value` in free text, where the key is a secret key (see isSecretKey). */
const KEY_VALUE = /(["']?)\b([A-Za-z_][\w.-]{0,127})\1(\s*[:=]\s*)(?:"([^"]*)"|'([^']*)'|(\[[a-z-]+\]|[^\s"'`,;&}\])]+))/g;

const words = (key: string): string[] =>
  key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

const SECRET_LAST_WORDS = new Set(['password', 'passwd', 'pwd', 'passphrase', 'secret', 'token', 'credential', 'credentials', 'cookie', 'authorization', 'apikey', 'privatekey', 'secretkey', 'accesskey', 'pat']);
const SECRET_KEY_QUALIFIERS = new Set(['api', 'private', 'secret', 'access', 'signing', 'encryption', 'master', 'client', 'auth', 'license', 'webhook']);

/**
 * A key whose value is a secret wherever it appears: `password`, `botToken`, `apiKey`,
 * `OPENAI_API_KEY`, `clientSecret`, `Authorization`, `set-cookie`… Decided on the last word(s),
 * so `maxTokens`, `tokenLimit`, `secretRef`, `declarationKey` and `sessionKey`-as-a-name keep
 * their values.
 */
export function isSecretKey(key: string): boolean {
  const w = words(key);
  const last = w[w.length - 1];
  if (last === undefined) return false;
  if (SECRET_LAST_WORDS.has(last)) return true;
  if (last === 'key' || last === 'secret') return w.length > 1 && SECRET_KEY_QUALIFIERS.has(w[w.length - 2]!);
  return false;
}

/** Values that are already safe to write: a secret reference, a keyed hash, a mask. */
const isSafeSecretStandIn = (v: unknown): boolean =>
  (typeof v === 'string' && (v.startsWith('hmac:') || /^\[[a-z-]+\]$/.test(v) || v === '')) ||
  (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as Record<string, unknown>).secretRef === 'string');

export interface MaskerOptions {
  /**
   * Paths whose values are secret, dotted, relative to the value masked (for a change summary:
   * to the resource, e.g. `spec.config.channels.*.botToken`). `*` is one segment, `**` any number.
   */
  readonly secretPaths?: readonly string[];
  /** The run's redactor, which knows the secret values decrypted in this run. */
  readonly redactor?: Redactor;
}

type Segments = readonly string[];

function matchPath(pattern: Segments, path: Segments, pi = 0, si = 0): boolean {
  if (pi === pattern.length) return si === path.length;
  const p = pattern[pi]!;
  if (p === '**') {
    for (let k = si; k <= path.length; k++) if (matchPath(pattern, path, pi + 1, k)) return true;
    return false;
  }
  return si < path.length && (p === '*' || p === path[si]) && matchPath(pattern, path, pi + 1, si + 1);
}

/** `spec.cron[nightly].payload` → `spec`, `cron`, `nightly`, `payload`. */
export const pathSegments = (path: string): string[] => path.split(/\.|\[|\]/).filter(Boolean);

export class Masker {
  private readonly secretPaths: readonly Segments[];
  private readonly redactor: Redactor;

  constructor(opts: MaskerOptions = {}) {
    this.secretPaths = (opts.secretPaths ?? []).map(pathSegments);
    this.redactor = opts.redactor ?? new Redactor();
  }

  /** A path (segments) whose value is secret: its last key is a secret key, or the caller marked it. */
  isSecretPath(path: Segments): boolean {
    const last = path[path.length - 1];
    if (last !== undefined && isSecretKey(last)) return true;
    return this.secretPaths.some((p) => matchPath(p, path));
  }

  maskText(text: string): string {
    let out = text.replace(TEXT_RULES[0]![0], TEXT_RULES[0]![1] as string);
    out = this.redactor.redact(out);
    for (const [re, to] of TEXT_RULES.slice(1)) out = out.replace(re, to as string);
    out = out.replace(KEY_VALUE, (m: string, q1: string, key: string, sep: string, dq?: string, sq?: string, bare?: string) => {
      const value = dq ?? sq ?? bare ?? '';
      // An auth scheme word before a masked credential ("Authorization: Bearer [bearer]") stays.
      if (!isSecretKey(key) || value === '' || /^\[[a-z-]+\]$/.test(value) || /^(bearer|basic|token)$/i.test(value)) return m;
      const q = dq !== undefined ? '"' : sq !== undefined ? "'" : '';
      return `${q1}${key}${q1}${sep}${q}[secret]${q}`;
    });
    out = out.replace(EMAIL, (m: string, _domain: string, tld: string, scpColon: string | undefined) => {
      // `git@github.com:org/repo` is an SSH remote, not a person.
      if (scpColon && m.startsWith('git@')) return m;
      if (NOT_TLD.has(tld.toLowerCase())) return m;
      return `[email]${scpColon ?? ''}`;
    });
    for (const [re, to] of PHONE_RULES) out = out.replace(re, to as (m: string) => string);
    return out;
  }

  /**
   * A masked copy of a JSON value. `path` is where the value sits (for secret paths); object keys
   * are masked too, since maps are sometimes keyed by an address or number.
   */
  maskValue(value: unknown, path: Segments = []): unknown {
    if (this.isSecretPath(path) && value !== null && typeof value !== 'boolean' && !isSafeSecretStandIn(value)) return '[secret]';
    if (typeof value === 'string') return this.maskText(value);
    if (Array.isArray(value)) return value.map((v, i) => this.maskValue(v, [...path, String(i)]));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        let key = this.maskText(k);
        for (let n = 2; key !== k && Object.hasOwn(out, key); n++) key = `${this.maskText(k)}#${n}`;
        out[key] = this.maskValue(v, [...path, k]);
      }
      return out;
    }
    return value;
  }
}
