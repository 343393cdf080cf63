/**
 * How a path inside a resource is written in plans, policies and audit events: plain keys joined
 * with dots (`spec.config.tools.profile`), any other key in brackets (`spec.cron[nightly]`,
 * `spec.files[SOUL.md]`, `spec.config.models[openai/gpt-5.4]`), so a key holding a dot stays one
 * segment and the text parses back to exactly the segments it came from.
 */

const PLAIN = /^[A-Za-z0-9_$-]+$/;

/** An entry of a keyed list (a route, a cron job, an allowlist entry): always in brackets. */
export const keyedSegment = (key: string): string => `[${key.replace(/[\\\]]/g, (c) => `\\${c}`)}]`;

export function formatResourcePath(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) {
    if (PLAIN.test(s)) out += out ? `.${s}` : s;
    else out += keyedSegment(s);
  }
  return out;
}

/** The segments of a path written by formatResourcePath (a bare `a.b` reads as two segments); throws on an unclosed bracket. */
export function parseResourcePath(path: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '.') i++;
    if (path[i] === '[') {
      let seg = '';
      i++;
      while (i < path.length && path[i] !== ']') {
        if (path[i] === '\\' && i + 1 < path.length) i++;
        seg += path[i++];
      }
      if (path[i] !== ']') throw new Error(`"[" at ${path.indexOf('[')} is never closed; a bracket holds one key, e.g. \`spec.cron[nightly]\``);
      i++;
      out.push(seg);
    } else {
      let j = i;
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
      out.push(path.slice(i, j));
      i = j;
    }
  }
  return out;
}
