/**
 * Secrets never leave the gateway: every view replaces them with the sentinel, and a write that
 * carries the sentinel back keeps the stored value (research §3.1).
 */
import { isPlainObject, type Json, type JsonRecord } from './json.ts';

export const REDACTED = '__OPENCLAW_REDACTED__';

const SECRET_KEY = /^(token|password|apiKey|secret|botToken|webhookSecret)$/i;

export function redact(v: Json): Json {
  if (Array.isArray(v)) return v.map(redact);
  if (!isPlainObject(v)) return v;
  const out: JsonRecord = {};
  for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'string' && SECRET_KEY.test(k) ? REDACTED : redact(x);
  return out;
}

/** Puts the stored secret back wherever the incoming document holds the sentinel. */
export function restoreRedacted(incoming: Json, stored: Json | undefined): Json {
  if (incoming === REDACTED) return typeof stored === 'string' ? stored : incoming;
  if (Array.isArray(incoming)) return incoming.map((x, i) => restoreRedacted(x, Array.isArray(stored) ? stored[i] : undefined));
  if (!isPlainObject(incoming)) return incoming;
  const out: JsonRecord = {};
  for (const [k, x] of Object.entries(incoming)) out[k] = restoreRedacted(x, isPlainObject(stored) ? stored[k] : undefined);
  return out;
}
