/**
 * Names `import` makes up: resource names, cron job names and secret names derived from what the
 * gateway calls things. Each must fit its own pattern in the model, so that the files validate
 * without hand edits, and stay readable, so that a reviewer recognises the gateway's name in it.
 */
import { createHash } from 'node:crypto';
import { SECRET_NAME } from '../secrets/age-store.ts';

/** The Name pattern of resources and cron jobs: lower-case letters, digits, inner dashes, ≤ 63. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const isName = (s: string): boolean => NAME.test(s);

/** `agents.entries.<id>`: the Agent spec's id pattern. */
export const AGENT_ID = /^[a-z0-9]([a-z0-9_-]{0,62})$/;

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 6);

/** Lower-case, runs of anything else as one dash, trimmed; a hash suffix keeps long ones distinct. */
export function slugify(text: string, maxLength = 63): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!slug) return `x-${shortHash(text)}`;
  if (slug.length <= maxLength) return slug;
  return `${slug.slice(0, maxLength - 7).replace(/-+$/, '')}-${shortHash(text)}`;
}

/** Hands out names unique within one namespace, adding `-2`, `-3`, … on a clash. */
export class NameAllocator {
  private readonly taken: Set<string>;
  constructor(taken: Iterable<string> = []) {
    this.taken = new Set(taken);
  }

  has(name: string): boolean {
    return this.taken.has(name);
  }

  /** The first free name of `candidates`, else the first with a numeric suffix. */
  allocate(...candidates: string[]): string {
    for (const c of candidates) {
      if (!this.taken.has(c)) {
        this.taken.add(c);
        return c;
      }
    }
    const base = candidates[0] ?? 'x';
    for (let i = 2; ; i++) {
      const suffix = `-${i}`;
      const name = `${base.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
      if (!this.taken.has(name)) {
        this.taken.add(name);
        return name;
      }
    }
  }
}

/**
 * A Gateway name from its URL: the host with dots as dashes, plus the port when one is given
 * (`ws://127.0.0.1:18789` → `127-0-0-1-18789`, `wss://gw.example.com` → `gw-example-com`).
 */
export function gatewayNameFromUrl(url: URL): string {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return slugify(url.port ? `${host}-${url.port}` : host);
}

/** `<gateway>-<agent>-<path>` as a valid secret name (`secrets/<name>.age`). */
export function secretNameFor(gateway: string, agentId: string, path: ReadonlyArray<string | number>): string {
  const raw = [gateway, agentId, ...path.map(String)].join('-');
  const name = slugify(raw, 128);
  return SECRET_NAME.test(name) ? name : `secret-${shortHash(raw)}`;
}
