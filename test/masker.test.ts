import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isSecretKey, Masker } from '../reconciler/audit/masker.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';

interface Corpus {
  readonly hits: ReadonlyArray<{ readonly in: string; readonly out: string }>;
  readonly nonHits: readonly string[];
}

const corpus = parse(readFileSync(join(import.meta.dirname, 'fixtures', 'pii-corpus.yaml'), 'utf8')) as Corpus;
const masker = new Masker();

describe('masker corpus', () => {
  it('has enough of both kinds to mean something', () => {
    expect(corpus.hits.length).toBeGreaterThan(50);
    expect(corpus.nonHits.length).toBeGreaterThan(50);
  });

  it.each(corpus.hits.map((h) => [h.in, h.out] as const))('masks %j', (input, output) => {
    expect(masker.maskText(input)).toBe(output);
  });

  it.each(corpus.nonHits.map((s) => [s] as const))('leaves %j alone', (input) => {
    expect(masker.maskText(input)).toBe(input);
  });

  it('masks every hit inside a larger text and inside JSON, and is idempotent', () => {
    const text = corpus.hits.map((h) => h.in).join(' | ');
    const once = masker.maskText(text);
    expect(masker.maskText(once)).toBe(once);
    const json = masker.maskValue({ notes: corpus.hits.map((h) => h.in) }) as { notes: string[] };
    expect(json.notes).toEqual(corpus.hits.map((h) => h.out));
  });
});

describe('secret keys and paths', () => {
  it.each(['password', 'botToken', 'apiKey', 'api_key', 'OPENAI_API_KEY', 'clientSecret', 'client_secret', 'Authorization', 'set-cookie', 'x-api-key', 'privateKey', 'secretAccessKey', 'webhookSecret', 'gateway.auth.token', 'accessToken', 'refresh_token', 'passphrase', 'credentials'])(
    '%s is a secret key',
    (k) => expect(isSecretKey(k)).toBe(true),
  );

  it.each(['maxTokens', 'tokens', 'tokenLimit', 'secretRef', 'secrets', 'declarationKey', 'sessionKey', 'key', 'keyId', 'passwordPolicy', 'model', 'tokenizer', 'primaryKey', 'hash'])('%s is not', (k) =>
    expect(isSecretKey(k)).toBe(false),
  );

  it('replaces whole values under secret keys, and leaves references, keyed hashes and flags', () => {
    const out = masker.maskValue({
      channels: { telegram: { botToken: '123:abc', enabled: true }, slack: { signingSecret: { nested: 'x' } } },
      models: { providers: { openai: { apiKey: { secretRef: 'openai' }, baseUrl: 'https://api.openai.com/v1' } } },
      gateway: { auth: { mode: 'token', token: 'hmac:0f0f' } },
      env: { OPENAI_API_KEY: 'plain-text-value', LOG_LEVEL: 'info' },
      limits: { maxTokens: 4096, password: null, requirePassword: true },
      pin: 1234,
    });
    expect(out).toEqual({
      channels: { telegram: { botToken: '[secret]', enabled: true }, slack: { signingSecret: '[secret]' } },
      models: { providers: { openai: { apiKey: { secretRef: 'openai' }, baseUrl: 'https://api.openai.com/v1' } } },
      gateway: { auth: { mode: 'token', token: 'hmac:0f0f' } },
      env: { OPENAI_API_KEY: '[secret]', LOG_LEVEL: 'info' },
      limits: { maxTokens: 4096, password: null, requirePassword: true },
      pin: 1234,
    });
  });

  it('masks paths the caller marks secret, with * and ** globs, relative to where the value sits', () => {
    const m = new Masker({ secretPaths: ['spec.config.channels.*.allowFrom', '**.webhookUrl', 'spec.cron.*.payload.message'] });
    const resource = {
      channels: { whatsapp: { allowFrom: ['group-1'], dmPolicy: 'allowlist' } },
      deep: { a: { b: { webhookUrl: 'https://example.com/hook/123' } } },
    };
    expect(m.maskValue(resource, ['spec', 'config'])).toEqual({
      channels: { whatsapp: { allowFrom: '[secret]', dmPolicy: 'allowlist' } },
      deep: { a: { b: { webhookUrl: '[secret]' } } },
    });
    expect(m.isSecretPath(['spec', 'cron', 'nightly', 'payload', 'message'])).toBe(true);
    expect(m.isSecretPath(['spec', 'cron', 'nightly', 'payload', 'kind'])).toBe(false);
    expect(m.isSecretPath(['spec', 'config', 'model'])).toBe(false);
  });

  it('masks PII in object keys without merging two keys into one', () => {
    const out = masker.maskValue({ 'alice@example.com': { role: 'admin' }, 'bob@example.com': { role: 'viewer' }, '+1 415 555 0132': 'x' });
    expect(out).toEqual({ '[email]': { role: 'admin' }, '[email]#2': { role: 'viewer' }, '[phone]': 'x' });
  });

  it('also removes the secret values the run decrypted (through the Redactor) and age identities', () => {
    const redactor = new Redactor();
    redactor.add('correct-horse-battery-staple', 'gateway-token');
    const m = new Masker({ redactor });
    expect(m.maskText('token was correct-horse-battery-staple, id AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ')).toBe(
      'token was [REDACTED:gateway-token], id [REDACTED:age-identity]',
    );
  });
});
