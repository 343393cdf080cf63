/**
 * Before/after values as a reviewer reads them: JSON (so `"true"` and `true` differ visibly),
 * object keys sorted so the same value always prints the same way, on one line when it fits and
 * broken over indented lines when it does not.
 */
import { compareText } from './order.ts';
import { jsonString } from './printable.ts';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const entries = (o: Record<string, unknown>): Array<[string, unknown]> =>
  Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort(compareText)
    .map((k) => [k, o[k]]);

/** `{ "a": 1, "b": [1, 2] }`: JSON with a space after separators, for one-line display. */
export function compactJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (typeof value === 'string') return jsonString(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `[${value.map(compactJson).join(', ')}]`;
  if (isObject(value)) {
    const members = entries(value);
    return members.length === 0 ? '{}' : `{ ${members.map(([k, v]) => `${jsonString(k)}: ${compactJson(v)}`).join(', ')} }`;
  }
  // Numbers, booleans, null; JSON turns NaN and Infinity into null, as a saved plan would.
  return JSON.stringify(value) ?? 'null';
}

/**
 * The value as lines no wider than `width` where JSON allows it (a long string cannot be broken):
 * each container is kept on one line if it fits from its indent, else opened one member per line.
 * `lead` counts what precedes the value on its first line (a member's `"key": `).
 */
export function jsonLines(value: unknown, width: number, indent = 0, lead = 0): string[] {
  const compact = compactJson(value);
  if (indent + lead + compact.length <= width) return [compact];
  if (Array.isArray(value) && value.length > 0) {
    const items = value.map((v, i) => withComma(jsonLines(v, width, indent + 2), i < value.length - 1));
    return ['[', ...items.flat().map((l) => `  ${l}`), ']'];
  }
  if (isObject(value)) {
    const members = entries(value);
    if (members.length === 0) return [compact];
    const lines = members.map(([k, v], i) => {
      const key = `${jsonString(k)}: `;
      const [first = '', ...rest] = jsonLines(v, width, indent + 2, key.length);
      return withComma([key + first, ...rest], i < members.length - 1);
    });
    return ['{', ...lines.flat().map((l) => `  ${l}`), '}'];
  }
  return [compact];
}

function withComma(lines: string[], comma: boolean): string[] {
  if (!comma || lines.length === 0) return lines;
  const last = lines.length - 1;
  return lines.map((l, i) => (i === last ? `${l},` : l));
}
