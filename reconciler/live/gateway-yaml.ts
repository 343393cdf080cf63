/**
 * Edits a Gateway's YAML the way a person would: one line added, everything else byte for byte.
 * yaml's Document API locates the nodes; the text is spliced at those positions, because
 * re-serialising a document normalises spacing and can move comments. The result is re-parsed
 * and must equal the intended data, else the whole file is re-serialised with the Document API
 * (which keeps comments), and re-checked the same way.
 */
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, parseAllDocuments, type Document, type Node, type YAMLMap } from 'yaml';

export class GatewayYamlError extends Error {}

const PATH = ['spec', 'auth'] as const;

function parse(text: string): Document.Parsed[] {
  const docs = parseAllDocuments(text, { version: '1.2' });
  return Array.isArray(docs) ? docs : [];
}

/**
 * Adds `deviceToken: { secretRef: NAME }` under `spec.auth` of the document at `documentIndex`.
 * Returns the new text, or undefined when that document already has a `spec.auth.deviceToken`.
 */
export function addDeviceTokenRef(text: string, documentIndex: number, secretName: string): string | undefined {
  const docs = parse(text);
  const doc = docs[documentIndex];
  if (!doc || doc.errors.length) throw new GatewayYamlError(`document ${documentIndex + 1} cannot be parsed`);
  const auth = doc.getIn(PATH, true);
  if (!isMap(auth)) throw new GatewayYamlError('spec.auth is not a mapping');
  if (auth.has('deviceToken')) return undefined;

  const expected = docs.map((d) => d.toJS() as unknown);
  const target = expected[documentIndex] as { spec: { auth: Record<string, unknown> } };
  target.spec.auth.deviceToken = { secretRef: secretName };

  const spliced = splice(text, auth, secretName);
  if (spliced !== undefined && sameData(spliced, expected)) return spliced;
  doc.setIn([...PATH, 'deviceToken'], doc.createNode({ secretRef: secretName }));
  const reserialised = docs.map((d) => d.toString()).join('');
  if (sameData(reserialised, expected)) return reserialised;
  throw new GatewayYamlError('could not add spec.auth.deviceToken without changing anything else');
}

function sameData(text: string, expected: readonly unknown[]): boolean {
  const docs = parse(text);
  return docs.length === expected.length && docs.every((d, i) => d.errors.length === 0 && isDeepStrictEqual(d.toJS(), expected[i]));
}

function splice(text: string, auth: YAMLMap, secretName: string): string | undefined {
  const range = auth.range;
  if (!range) return undefined;
  const insertAt = (pos: number, s: string) => text.slice(0, pos) + s + text.slice(pos);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (auth.flow) {
    // `auth: { token: { secretRef: x } }` → `auth: { token: { secretRef: x }, deviceToken: { secretRef: y } }`
    const close = text.lastIndexOf('}', range[1] - 1);
    if (close < range[0]) return undefined;
    const body = text.slice(range[0], close).trimEnd();
    const sep = body.endsWith(',') || body.endsWith('{') ? ' ' : ', ';
    return insertAt(range[0] + body.length, `${sep}deviceToken: { secretRef: ${secretName} }`);
  }
  const first = auth.items[0];
  const last = auth.items.at(-1);
  if (!first || !last || !isNode(first.key) || !first.key.range) return undefined;
  const indent = lineIndent(text, first.key.range[0]);
  if (indent === undefined) return undefined;
  // Match how `token` is written: a nested block mapping, or the compact flow form.
  const token = auth.get('token', true);
  let entry = `${indent}deviceToken: { secretRef: ${secretName} }${eol}`;
  if (isMap(token) && !token.flow) {
    const inner = token.items[0]?.key;
    const innerIndent = isNode(inner) && inner.range ? lineIndent(text, inner.range[0]) : undefined;
    if (innerIndent !== undefined && innerIndent.length > indent.length) entry = `${indent}deviceToken:${eol}${innerIndent}secretRef: ${secretName}${eol}`;
  }
  const lastNode = isNode(last.value) ? last.value : isNode(last.key) ? last.key : undefined;
  const end = lastNode?.range?.[1];
  if (end === undefined) return undefined;
  if (text[end - 1] === '\n') return insertAt(end, entry);
  const newline = text.indexOf('\n', end);
  return newline < 0 ? text + eol + entry : insertAt(newline + 1, entry);
}

/** The whitespace before `offset` when only whitespace precedes it on its line. */
function lineIndent(text: string, offset: number): string | undefined {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(start, offset);
  return /^[ ]*$/.test(before) ? before : undefined;
}

function isNode(v: unknown): v is Node {
  return isScalar(v) || isMap(v) || (typeof v === 'object' && v !== null && 'range' in v);
}
