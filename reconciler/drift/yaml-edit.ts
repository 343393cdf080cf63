/**
 * Edits a YAML file's text so that exactly one value changes and every other byte stays: its
 * comments, key order, quoting, flow or block style, indentation and line folding.
 *
 * yaml's Document API finds the nodes (parseAllDocuments gives each its source range), but the
 * new text is spliced into the original rather than printed from the Document: `doc.toString()`
 * re-renders untouched lines too (it pads `[a, b]` to `[ a, b ]` and joins folded scalars, which
 * changed lines outside the edit in 18 of the 22 example files). A replaced map is edited key by
 * key, so what is unchanged inside it keeps its comments as well.
 *
 * Every edit is checked by parsing the result: the edited document must equal the intended value
 * and every other document must be untouched, or the edit throws `YamlEditError` and nothing is
 * returned. Callers then leave the file alone.
 */
import { isMap, isPair, isScalar, isSeq, parse, parseAllDocuments, Scalar, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { deepEqual, isObject } from '../plan/json-paths.ts';

export type YamlPath = ReadonlyArray<string | number>;

/** The edit cannot be made safely on this file's layout; the file is left as it was. */
export class YamlEditError extends Error {}

/** Sets the value at `path` (created with its missing parents), changing only what differs. */
export function setIn(source: string, documentIndex: number, path: YamlPath, value: unknown): string {
  return checked(source, documentIndex, (js) => jsSet(js, path, value), (s, p) => setNode(p, s, documentIndex, path, value));
}

/**
 * Removes the key or list entry at `path`. A map or list left empty goes too, up to `keep`
 * segments deep (`keep: 2` with `['spec', 'config', …]` leaves at least `config: {}`).
 */
export function deleteIn(source: string, documentIndex: number, path: YamlPath, keep: number): string {
  return checked(source, documentIndex, (js) => jsDelete(js, path, keep), (s, p) => deleteNode(p, s, documentIndex, path, keep));
}

/** Adds `value` at the end of the list at `path` (created when missing). */
export function appendIn(source: string, documentIndex: number, path: YamlPath, value: unknown): string {
  return checked(
    source,
    documentIndex,
    (js) => {
      const list = getJs(js, path);
      return jsSet(js, path, [...(Array.isArray(list) ? list : []), value]);
    },
    (s, p) => appendNode(p, s, documentIndex, path, value),
  );
}

/** The file without one of its documents; null when it was the only one (delete the file). */
export function removeDocument(source: string, documentIndex: number): string | null {
  const docs = parseDocs(source);
  const contentful = docs.filter((d) => d.contents !== null);
  if (contentful.length <= 1 && contentful[0] === docs[documentIndex]) return null;
  const doc = docs[documentIndex];
  if (!doc) throw new YamlEditError(`the file has no document ${documentIndex + 1}`);
  const next = docs[documentIndex + 1];
  // A later document's range starts at its `---`; the first one's at its content, so a leading comment stays.
  const out = source.slice(0, doc.range[0]) + (next ? source.slice(next.range[0]) : '');
  const before = docs.map((d) => d.toJS() as unknown);
  const after = parseDocs(out).map((d) => d.toJS() as unknown);
  if (!deepEqual(after, before.filter((_, i) => i !== documentIndex))) throw new YamlEditError('removing the document would change the others');
  return out;
}

// ---- checking ----

/** Parses of one edit, by source text: each intermediate text is parsed once, however many steps look at it. */
type Parses = Map<string, Document.Parsed[]>;

function checked(source: string, documentIndex: number, intended: (js: unknown) => unknown, edit: (s: string, p: Parses) => string): string {
  const parses: Parses = new Map();
  const before = parseDocs(source, parses).map((d) => d.toJS() as unknown);
  if (documentIndex >= before.length) throw new YamlEditError(`the file has no document ${documentIndex + 1}`);
  const expected = before.map((js, i) => (i === documentIndex ? intended(structuredClone(js)) : js));
  const out = edit(source, parses);
  let after: unknown[];
  try {
    after = parseDocs(out, parses).map((d) => d.toJS() as unknown);
  } catch (e) {
    throw new YamlEditError(`the edit would leave invalid YAML: ${(e as Error).message}`);
  }
  if (!deepEqual(after, expected)) throw new YamlEditError('the edit would not give the intended value; the file was left alone');
  return out;
}

function parseDocs(source: string, parses?: Parses): Document.Parsed[] {
  const known = parses?.get(source);
  if (known) return known;
  const parsed = parseAllDocuments(source, { version: '1.2' });
  const docs = Array.isArray(parsed) ? parsed : [];
  for (const d of docs) if (d.errors.length) throw new YamlEditError(d.errors[0]!.message.split('\n')[0]!);
  parses?.set(source, docs);
  return docs;
}

function getJs(js: unknown, path: YamlPath): unknown {
  let v = js;
  for (const k of path) {
    if (Array.isArray(v) && typeof k === 'number') v = v[k];
    else if (isObject(v)) v = v[String(k)];
    else return undefined;
  }
  return v;
}

function jsSet(js: unknown, path: YamlPath, value: unknown): unknown {
  if (path.length === 0) return structuredClone(value);
  const [k, ...rest] = path;
  if (Array.isArray(js) && typeof k === 'number') return js.map((x: unknown, i) => (i === k ? jsSet(x, rest, value) : x));
  const o = isObject(js) ? { ...js } : {};
  o[String(k)] = jsSet(o[String(k)], rest, value);
  return o;
}

function jsDelete(js: unknown, path: YamlPath, keep: number): unknown {
  const parent = getJs(js, path.slice(0, -1));
  const size = Array.isArray(parent) ? parent.length : isObject(parent) ? Object.keys(parent).length : 0;
  if (size === 1 && path.length - 1 > keep) return jsDelete(js, path.slice(0, -1), keep);
  const last = path[path.length - 1]!;
  const emptied = Array.isArray(parent) ? parent.filter((_: unknown, i) => i !== last) : Object.fromEntries(Object.entries(parent as object).filter(([k]) => k !== String(last)));
  return jsSet(js, path.slice(0, -1), emptied);
}

// ---- reading the layout ----

interface Layout {
  readonly src: string;
  readonly doc: Document.Parsed;
  readonly eol: string;
  /** Indentation step of nested block maps in this document. */
  readonly unit: number;
  /** `{ a: 1 }` rather than `{a: 1}`; `[ a ]` rather than `[a]`. */
  readonly mapPad: boolean;
  readonly seqPad: boolean;
}

function layout(p: Parses, src: string, documentIndex: number): Layout {
  const doc = parseDocs(src, p)[documentIndex];
  if (!doc) throw new YamlEditError(`the file has no document ${documentIndex + 1}`);
  let unit: number | undefined;
  let mapPad: boolean | undefined;
  let seqPad: boolean | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (unit === undefined && isScalar(pair.key) && isMap(pair.value) && !pair.value.flow && pair.value.items[0]) {
        const child = (pair.value.items[0] as Pair).key as Node;
        const step = column(src, child.range![0]) - column(src, pair.key.range![0]);
        if (step > 0) unit = step;
      }
    },
    Map(_, map) {
      if (mapPad === undefined && map.flow && map.items.length && map.range) mapPad = src[map.range[0] + 1] === ' ';
    },
    Seq(_, seq) {
      if (seqPad === undefined && seq.flow && seq.items.length && seq.range) seqPad = src[seq.range[0] + 1] === ' ';
    },
  });
  return { src, doc, eol: src.includes('\r\n') ? '\r\n' : '\n', unit: unit ?? 2, mapPad: mapPad ?? true, seqPad: seqPad ?? false };
}

const lineStart = (src: string, at: number): number => src.lastIndexOf('\n', at - 1) + 1;
const column = (src: string, at: number): number => at - lineStart(src, at);
/** The offset of the line's `\n` (or the end of the text). */
const lineEnd = (src: string, at: number): number => {
  const i = src.indexOf('\n', at);
  return i < 0 ? src.length : i;
};
/** The start of the line after the one holding `at - 1`: where a node that ends at `at` has ended its line. */
const afterLine = (src: string, at: number): number => (src[at - 1] === '\n' ? at : Math.min(src.length, lineEnd(src, at) + 1));
const splice = (src: string, from: number, to: number, text: string): string => src.slice(0, from) + text + src.slice(to);

interface Found {
  readonly exists: boolean;
  /** The node at the path, or (missing) the deepest node that exists. */
  readonly node: unknown;
  /** Segments resolved. */
  readonly depth: number;
  /** The pair holding `node`, when its parent is a map. */
  readonly pair?: Pair;
  readonly inFlow: boolean;
}

const keyMatches = (pair: unknown, seg: string | number): boolean =>
  isPair(pair) && (isScalar(pair.key) ? pair.key.value === seg || String(pair.key.value) === String(seg) : pair.key === seg);

function find(doc: Document.Parsed, path: YamlPath): Found {
  let node: unknown = doc.contents;
  let pair: Pair | undefined;
  let inFlow = false;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const flow = (isMap(node) || isSeq(node)) && Boolean(node.flow);
    if (isMap(node)) {
      const p = node.items.find((x) => keyMatches(x, seg));
      if (!p) return { exists: false, node, depth: i, ...(pair ? { pair } : {}), inFlow };
      pair = p;
      node = p.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      pair = undefined;
      node = node.items[seg];
    } else return { exists: false, node, depth: i, ...(pair ? { pair } : {}), inFlow };
    inFlow ||= flow;
  }
  return { exists: true, node, depth: path.length, ...(pair ? { pair } : {}), inFlow };
}

const toJs = (doc: Document.Parsed, node: unknown): unknown => (isMap(node) || isSeq(node) || isScalar(node) ? node.toJS(doc) : null);

// ---- edits ----

function setNode(p: Parses, src: string, di: number, path: YamlPath, value: unknown): string {
  const at = layout(p, src, di);
  const found = find(at.doc, path);
  if (found.exists) {
    const current = toJs(at.doc, found.node);
    if (deepEqual(current, value)) return src;
    // Key by key: what does not change keeps its text and comments.
    if (isMap(found.node) && found.node.items.length && isObject(value) && Object.keys(value).length && isObject(current)) {
      let out = src;
      for (const [k, v] of Object.entries(value)) if (!deepEqual(current[k], v)) out = setNode(p, out, di, [...path, k], v);
      for (const k of Object.keys(current)) if (!(k in value)) out = deleteNode(p, out, di, [...path, k], path.length);
      return out;
    }
    return replaceValue(at, found, value);
  }
  const missing = path.slice(found.depth);
  const nested = missing.slice(1).reduceRight<unknown>((v, k) => ({ [String(k)]: v }), value);
  if (isMap(found.node)) return insertPair(at, found.node, String(missing[0]), nested, found.inFlow);
  if (isSeq(found.node)) throw new YamlEditError(`no list entry ${String(missing[0])} at ${path.slice(0, found.depth).join('.')}`);
  // A scalar (or `key:` with nothing) where a map must go: it becomes that map.
  return setNode(p, src, di, path.slice(0, found.depth), { [String(missing[0])]: nested });
}

const isCollection = (v: unknown): boolean => Array.isArray(v) || isObject(v);
/** Values that read best as a block in a block context: maps, and lists holding collections. */
const wantsBlock = (v: unknown): boolean => (isObject(v) && Object.keys(v).length > 0) || (Array.isArray(v) && v.some(isCollection));
const multiline = (v: unknown): v is string => typeof v === 'string' && v.includes('\n') && literal(v, 0) !== undefined;

function replaceValue(at: Layout, found: Found, value: unknown): string {
  const { src, eol } = at;
  const node = found.node as Node | null;
  const range = node?.range;
  const blockCollection = (isMap(node) || isSeq(node)) && !node.flow;
  const emptyScalar = !range || range[0] === range[1];
  const keyCol = found.pair ? column(src, (found.pair.key as Node).range![0]) : range ? column(src, range[0]) : 0;
  const afterColon = found.pair ? src.indexOf(':', (found.pair.key as Node).range![1]) + 1 : -1;
  const trailingComment = (from: number) => {
    const rest = src.slice(from, lineEnd(src, from)).replace(/\r$/, '').trim();
    return rest.startsWith('#') ? ` ${rest}` : '';
  };

  const flowNode = (isMap(node) || isSeq(node)) && Boolean(node.flow);
  // A block stays a block; a scalar becomes one when the new value reads best that way.
  const asBlock = wantsBlock(value) || multiline(value) || (blockCollection && isCollection(value) && Object.keys(value as object).length > 0);
  if (!found.inFlow && !flowNode && asBlock) {
    if (blockCollection && isCollection(value)) {
      // Same shape, new content: the block is rewritten where it stands.
      const col = column(src, range![0]);
      const lines = blockLines(at, value, col);
      lines[0] = lines[0]!.slice(col);
      return splice(src, range![0], range![1], lines.join(eol) + (src[range![1] - 1] === '\n' ? eol : ''));
    }
    if (found.pair) {
      const end = emptyScalar ? lineEnd(src, afterColon) : blockCollection || isBlockScalar(node) ? range![1] - (src[range![1] - 1] === '\n' ? 1 : 0) : lineEnd(src, range![1]);
      const comment = emptyScalar ? trailingComment(afterColon) : blockCollection || isBlockScalar(node) ? '' : trailingComment(range![1]);
      if (multiline(value)) {
        const block = literal(value, keyCol + at.unit)!;
        return splice(src, afterColon, end, ` ${block.header}${comment}${eol}${block.lines.join(eol)}`);
      }
      return splice(src, afterColon, end, `${comment}${eol}${blockLines(at, value, keyCol + at.unit).join(eol)}`);
    }
    // A list entry: `- ` then the block, its first line on the dash's line.
    const col = column(src, range![0]);
    const block = multiline(value) ? literal(value, col)! : undefined;
    const lines = block ? [block.header, ...block.lines] : blockLines(at, value, col);
    if (!block) lines[0] = lines[0]!.slice(col);
    const end = blockCollection ? range![1] - (src[range![1] - 1] === '\n' ? 1 : 0) : lineEnd(src, range![1]);
    return splice(src, range![0], end, lines.join(eol) + (blockCollection ? '' : trailingComment(range![1])));
  }

  const text = isCollection(value) ? flow(at, value) : scalarText(value, found.inFlow ? 'flow' : 'block', isScalar(node) ? node.type : undefined);
  if (emptyScalar) {
    if (!found.pair) throw new YamlEditError('an empty list entry cannot be edited in place');
    return splice(src, afterColon, afterColon, ` ${text}`);
  }
  if (blockCollection || isBlockScalar(node)) {
    // The block ends with its line break, which stays.
    const end = range![1] - (src[range![1] - 1] === '\n' ? 1 : 0);
    if (found.pair) return splice(src, afterColon, end, ` ${text}${blockCollection ? trailingComment(afterColon) : ''}`);
    return splice(src, range![0], end, text);
  }
  return splice(src, range![0], range![1], text);
}

const isBlockScalar = (node: unknown): boolean => isScalar(node) && (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED);

function insertPair(at: Layout, map: YAMLMap, key: string, value: unknown, inFlow: boolean): string {
  const { src, eol } = at;
  if (map.flow || inFlow) {
    const item = `${scalarText(key, 'flow-key')}: ${isCollection(value) ? flow(at, value) : scalarText(value, 'flow')}`;
    const last = map.items[map.items.length - 1] as Pair | undefined;
    if (last) {
      const end = (last.value as Node | null)?.range?.[1] ?? (last.key as Node).range![1];
      return splice(src, end, end, `, ${item}`);
    }
    return splice(src, map.range![0], map.range![1], at.mapPad ? `{ ${item} }` : `{${item}}`);
  }
  const first = map.items[0] as Pair | undefined;
  if (!first) throw new YamlEditError('an empty block map cannot hold a new key');
  const col = column(src, (first.key as Node).range![0]);
  const last = map.items[map.items.length - 1] as Pair;
  const end = (last.value as Node | null)?.range?.[1] ?? (last.key as Node).range![1];
  const pos = afterLine(src, end);
  const lines = pairLines(at, key, value, col).join(eol);
  return pos === src.length && !src.endsWith('\n') ? `${src}${eol}${lines}${eol}` : splice(src, pos, pos, `${lines}${eol}`);
}

function deleteNode(p: Parses, src: string, di: number, path: YamlPath, keep: number): string {
  const at = layout(p, src, di);
  const found = find(at.doc, path);
  if (!found.exists) return src;
  const holder = find(at.doc, path.slice(0, -1)).node;
  if (!isMap(holder) && !isSeq(holder)) throw new YamlEditError(`nothing holds ${path.join('.')}`);
  if (holder.items.length === 1) {
    if (path.length - 1 > keep) return deleteNode(p, src, di, path.slice(0, -1), keep);
    return setNode(p, src, di, path.slice(0, -1), isMap(holder) ? {} : []);
  }
  const last = path[path.length - 1]!;
  const index = isMap(holder) ? holder.items.findIndex((p) => keyMatches(p, last)) : (last as number);
  const start = (i: number) => (isMap(holder) ? ((holder.items[i] as Pair).key as Node).range![0] : (holder.items[i] as Node).range![0]);
  const end = (i: number) => {
    if (isSeq(holder)) return (holder.items[i] as Node).range![1];
    const p = holder.items[i] as Pair;
    return (p.value as Node | null)?.range?.[1] ?? (p.key as Node).range![1];
  };
  if (holder.flow || found.inFlow) {
    // `a, b, c`: an entry goes with the comma after it, the last one with the comma before it.
    if (index < holder.items.length - 1) return splice(src, start(index), start(index + 1), '');
    return splice(src, end(index - 1), end(index), '');
  }
  const s = start(index);
  const from = lineStart(src, s);
  const lead = src.slice(from, s);
  if (isSeq(holder)) {
    if (!/^\s*-\s*$/.test(lead)) throw new YamlEditError('this list entry does not start its own line');
    return splice(src, from, afterLine(src, end(index)), '');
  }
  if (/^\s*$/.test(lead)) return splice(src, from, afterLine(src, end(index)), '');
  // The first key of a list entry shares the `- ` line: the next key moves up onto it.
  return splice(src, s, start(index + 1), '');
}

function appendNode(p: Parses, src: string, di: number, path: YamlPath, value: unknown): string {
  const at = layout(p, src, di);
  const found = find(at.doc, path);
  const seq = found.node;
  if (!found.exists || !isSeq(seq) || seq.items.length === 0) return setNode(p, src, di, path, [value]);
  const lastItem = seq.items[seq.items.length - 1] as Node;
  if (seq.flow || found.inFlow) return splice(src, lastItem.range![1], lastItem.range![1], `, ${isCollection(value) ? flow(at, value) : scalarText(value, 'flow')}`);
  const first = (seq.items[0] as Node).range![0];
  const dash = /^(\s*)-\s*$/.exec(src.slice(lineStart(src, first), first));
  if (!dash) throw new YamlEditError('this list\'s entries do not start their own lines');
  const pos = afterLine(src, lastItem.range![1]);
  const lines = seqLines(at, [value], dash[1]!.length).join(at.eol);
  return pos === src.length && !src.endsWith('\n') ? `${src}${at.eol}${lines}${at.eol}` : splice(src, pos, pos, `${lines}${at.eol}`);
}

// ---- rendering new values in the file's style ----

type ScalarContext = 'block' | 'flow' | 'block-key' | 'flow-key';

function plainReadsBack(s: string, ctx: ScalarContext): boolean {
  if (s === '' || /[\n\r\t]/.test(s) || s !== s.trim()) return false;
  const probe = { block: `k: ${s}`, flow: `[${s}]`, 'block-key': `${s}: 1`, 'flow-key': `{${s}: 1}` }[ctx];
  const want = { block: { k: s }, flow: [s], 'block-key': { [s]: 1 }, 'flow-key': { [s]: 1 } }[ctx];
  try {
    return deepEqual(parse(probe, { version: '1.2', logLevel: 'silent' }), want);
  } catch {
    return false;
  }
}

/** One scalar as YAML: plain when it reads back as the same string, else quoted like the value it replaces. */
function scalarText(value: unknown, ctx: ScalarContext, like?: Scalar.Type): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  if (typeof value === 'boolean') return String(value);
  const s = String(value);
  if (like === Scalar.QUOTE_SINGLE && !/[\n\r]/.test(s) && !/[\p{Cc}]/u.test(s)) return `'${s.replace(/'/g, "''")}'`;
  if (like !== Scalar.QUOTE_DOUBLE && plainReadsBack(s, ctx)) return s;
  return JSON.stringify(s);
}

function flow(at: Layout, value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inner = value.map((v: unknown) => (isCollection(v) ? flow(at, v) : scalarText(v, 'flow'))).join(', ');
    return at.seqPad ? `[ ${inner} ]` : `[${inner}]`;
  }
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const inner = entries.map(([k, v]) => `${scalarText(k, 'flow-key')}: ${isCollection(v) ? flow(at, v) : scalarText(v, 'flow')}`).join(', ');
    return at.mapPad ? `{ ${inner} }` : `{${inner}}`;
  }
  return scalarText(value, 'flow');
}

/** A `|` block for a multi-line string, its lines at `col`; undefined when a literal cannot hold it exactly. */
function literal(s: string, col: number): { header: string; lines: string[] } | undefined {
  const lines = s.split('\n');
  if (s.endsWith('\n')) lines.pop();
  if (lines.length === 0 || /^[ \t]/.test(lines[0]!) || /[\r\p{Cc}]/u.test(s.replace(/\n/g, ''))) return undefined;
  const chomp = s.endsWith('\n\n') ? '+' : s.endsWith('\n') ? '' : '-';
  const pad = ' '.repeat(col);
  return { header: `|${chomp}`, lines: lines.map((l) => (l === '' ? '' : pad + l)) };
}

function pairLines(at: Layout, key: string, value: unknown, col: number): string[] {
  const pad = ' '.repeat(col);
  const k = scalarText(key, 'block-key');
  if (multiline(value)) {
    const block = literal(value, col + at.unit)!;
    return [`${pad}${k}: ${block.header}`, ...block.lines];
  }
  if (!wantsBlock(value)) return [`${pad}${k}: ${isCollection(value) ? flow(at, value) : scalarText(value, 'block')}`];
  return [`${pad}${k}:`, ...blockLines(at, value, col + at.unit)];
}

function blockLines(at: Layout, value: unknown, col: number): string[] {
  if (Array.isArray(value)) return seqLines(at, value, col);
  if (isObject(value) && Object.keys(value).length) return Object.entries(value).flatMap(([k, v]) => pairLines(at, k, v, col));
  return [' '.repeat(col) + flow(at, value)];
}

function seqLines(at: Layout, items: readonly unknown[], col: number): string[] {
  const pad = ' '.repeat(col);
  return items.flatMap((item) => {
    if (isObject(item) && Object.keys(item).length) {
      const lines = blockLines(at, item, col + 2);
      lines[0] = `${pad}- ${lines[0]!.slice(col + 2)}`;
      return lines;
    }
    if (multiline(item)) {
      const block = literal(item, col + 2)!;
      return [`${pad}- ${block.header}`, ...block.lines];
    }
    return [`${pad}- ${isCollection(item) ? flow(at, item) : scalarText(item, 'block')}`];
  });
}
