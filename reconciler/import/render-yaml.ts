/**
 * Renders one planned resource as a commented YAML file, built with yaml's Document API so that
 * comments attach to the nodes they explain (and survive later edits made through the same API).
 * Style follows the hand-written examples: block style for structure, flow style for short leaf
 * collections such as `labels: { team: x }` or `deny: [browser]`.
 */
import { Document, isMap, isPair, isScalar, isSeq, Scalar, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Note, PlannedResource } from './plan-import.ts';

/** Strings that YAML 1.1 tools (and readers) take for booleans: quoted so nobody has to wonder. */
const YAML11_BOOLEAN = /^(y|n|yes|no|on|off)$/i;
/** Collections up to this many characters (as JSON) are written on one line. */
const FLOW_WIDTH = 60;
/** Where block style is kept even for short content: the skeleton of every resource. */
const BLOCK_PATHS = new Set(['', 'metadata', 'spec', 'spec.config', 'spec.exec', 'spec.auth', 'spec.files']);

const comment = (lines: readonly string[]) => lines.map((l) => (l ? ` ${l}` : ' ')).join('\n');
const appendComment = (existing: string | undefined, text: string) => (existing ? `${existing}\n${text}` : text);

type Collection = YAMLMap<unknown, unknown> | YAMLSeq<unknown>;

function attachNote(doc: Document, note: Note): void {
  const last = note.path[note.path.length - 1];
  const text = comment(note.lines);
  if (typeof last === 'number') {
    const node = doc.getIn(note.path, true) as Node | undefined;
    if (node) node.commentBefore = appendComment(node.commentBefore ?? undefined, text);
    return;
  }
  const parent = doc.getIn(note.path.slice(0, -1), true);
  if (!isMap(parent)) return;
  const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === last);
  if (pair && isScalar(pair.key)) pair.key.commentBefore = appendComment(pair.key.commentBefore ?? undefined, text);
}

const hasComment = (n: unknown): boolean => {
  if (!n || typeof n !== 'object') return false;
  const c = n as { commentBefore?: string | null; comment?: string | null };
  return Boolean(c.commentBefore || c.comment);
};

/** Sets flow style bottom-up; returns whether the node fits on one line (a plain scalar, or a collection made flow). */
function styleCollections(node: unknown, path: string): boolean {
  if (isScalar(node)) return !hasComment(node) && !(typeof node.value === 'string' && node.value.includes('\n'));
  if (!isMap(node) && !isSeq(node)) return false;
  const collection = node as Collection;
  let scalarsOnly = !hasComment(collection);
  for (const item of collection.items as unknown[]) {
    if (isPair(item)) {
      const p = item as Pair<unknown, unknown>;
      const key = isScalar(p.key) ? String(p.key.value) : '?';
      // Every child is styled, so no short-circuit here.
      const fits = styleCollections(p.value, path ? `${path}.${key}` : key);
      scalarsOnly = scalarsOnly && fits && !hasComment(p.key);
    } else {
      // A list of mappings reads better one item per line, each item on one line if short.
      const fits = styleCollections(item, `${path}[]`);
      scalarsOnly = scalarsOnly && fits && isScalar(item);
    }
  }
  if (scalarsOnly && collection.items.length > 0 && !BLOCK_PATHS.has(path) && JSON.stringify(collection.toJSON()).length <= FLOW_WIDTH) collection.flow = true;
  return Boolean(collection.flow);
}

export function renderResource(resource: PlannedResource, opts: { modeline?: string } = {}): string {
  const doc = new Document(resource.value, { aliasDuplicateObjects: false });
  // Built from plain JSON, every scalar is a node; only strings need a look.
  const quote = (n: unknown): void => {
    if (isScalar(n)) {
      if (typeof n.value === 'string' && YAML11_BOOLEAN.test(n.value)) n.type = Scalar.QUOTE_DOUBLE;
    } else if (isMap(n) || isSeq(n)) {
      for (const item of (n as Collection).items as unknown[]) {
        if (isPair(item)) quote((item as Pair<unknown, unknown>).value);
        else quote(item);
      }
    }
  };
  quote(doc.contents);
  for (const note of resource.notes) attachNote(doc, note);
  styleCollections(doc.contents, '');
  const header = [...(opts.modeline ? [`yaml-language-server: $schema=${opts.modeline}`, ''] : []), ...resource.header];
  if (doc.contents) doc.contents.commentBefore = [comment(header), doc.contents.commentBefore].filter(Boolean).join('\n');
  return doc.toString({ lineWidth: 0, blockQuote: 'literal', flowCollectionPadding: true });
}
