/**
 * Finds where a field of a parsed document sits in its file, so that every problem found on plain
 * JS values (schema errors, references, later plan errors) can point at `file:line:col`.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';

export type PathSegment = string | number;

export interface Located {
  readonly line: number;
  readonly col: number;
}

export interface SourceLocator {
  /**
   * Position of the value at `path`, or of its key when `at` is `key`. Falls back to the deepest
   * ancestor that exists, so a missing field points at the object that should hold it.
   */
  locate(path: ReadonlyArray<PathSegment>, at?: 'key' | 'value'): Located;
}

export function yamlLocator(doc: Document, lines: LineCounter): SourceLocator {
  const pos = (o: number): Located => {
    const p = lines.linePos(o);
    return { line: p.line, col: p.col };
  };
  return {
    locate(path, at = 'value') {
      let node: Node | null = doc.contents as Node | null;
      let key: Node | null = null;
      for (const seg of path) {
        let next: Node | null | undefined;
        let nextKey: Node | null = null;
        if (isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value === seg : p.key === seg));
          if (pair) {
            nextKey = isScalar(pair.key) ? pair.key : null;
            next = (pair.value as Node | null) ?? nextKey;
          }
        } else if (isSeq(node) && typeof seg === 'number') {
          next = node.items[seg] as Node | undefined;
        }
        // A missing field points at the key of the object that should hold it.
        if (!next) return pos((key ?? node)?.range?.[0] ?? 0);
        node = next;
        key = nextKey;
      }
      return pos(((at === 'key' ? key : null) ?? node)?.range?.[0] ?? 0);
    },
  };
}

/**
 * A locator that keeps only the file's text and parses it again the first time a position is
 * asked for. Positions are needed only for diagnostics, so holding every parsed Document of a large
 * repo in memory (and in the garbage collector's way) would cost far more than the rare re-parse.
 */
export function lazyYamlLocator(source: string, documentOffset: number): SourceLocator {
  let inner: SourceLocator | undefined;
  return {
    locate(path, at) {
      if (!inner) {
        const lines = new LineCounter();
        const docs = parseAllDocuments(source, { lineCounter: lines, version: '1.2' });
        const all = Array.isArray(docs) ? docs : [docs];
        // Found by where it starts: documents skipped while loading (too deep) shift the indexes.
        const doc = all.find((d) => d.range[0] === documentOffset);
        inner = doc ? yamlLocator(doc as Document, lines) : { locate: () => ({ line: 1, col: 1 }) };
      }
      return inner.locate(path, at);
    },
  };
}
