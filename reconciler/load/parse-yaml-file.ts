/**
 * Bytes of one YAML file → its documents as plain values, each with a locator for its fields, plus
 * diagnostics for everything wrong with the file itself (encoding, syntax, duplicate keys, tabs,
 * limits). Nothing here throws on bad content.
 */
import { Composer, isAlias, isScalar, LineCounter, Parser, visit, type CST, type Document, type Node, type YAMLError } from 'yaml';
import type { Diagnostic, DiagnosticCode } from '../diagnostics/diagnostic.ts';
import type { LoadLimits } from './limits.ts';
import { lazyYamlLocator, type SourceLocator } from './source-map.ts';

export interface ParsedDocument {
  /** 0-based position of the document in its file. */
  readonly index: number;
  readonly value: unknown;
  readonly locator: SourceLocator;
  readonly line: number;
}

export interface ParsedFile {
  readonly documents: ParsedDocument[];
  readonly diagnostics: Diagnostic[];
}

const YAML_CODES: Partial<Record<string, DiagnosticCode>> = {
  DUPLICATE_KEY: 'duplicate-key',
  TAB_AS_INDENT: 'tab-indent',
  RESOURCE_EXHAUSTION: 'nesting-too-deep',
};

const YAML_HINTS: Partial<Record<string, string>> = {
  DUPLICATE_KEY: 'remove one of the two keys; YAML keeps only the last, so one value would be lost silently',
  TAB_AS_INDENT: 'indent with spaces; YAML does not allow tabs for indentation',
  BAD_INDENT: 'check the indentation of this line against the lines above it',
  MISSING_CHAR: 'a bracket, brace or quote is not closed',
  UNEXPECTED_TOKEN: 'check the punctuation on this line',
  BLOCK_AS_IMPLICIT_KEY: 'a key may not span lines; quote it or add the missing colon',
  MULTILINE_IMPLICIT_KEY: 'a key may not span lines; add the missing colon or quote the value',
};

const DEPTH_HINT = 'flatten the structure; no clawops resource needs this much nesting';

/** Where the first invalid UTF-8 sequence sits, as a character offset in the lossy decoding. */
function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return undefined;
  } catch {
    const lossy = new TextDecoder('utf-8').decode(bytes);
    // Genuine U+FFFD in the file is rare; the first replacement character is the first bad byte.
    const i = lossy.indexOf('\uFFFD');
    return i < 0 ? 0 : i;
  }
}

/**
 * The first collection nested deeper than `limit`, found on the concrete syntax tree before
 * composing: yaml's composer recurses once per level, so a hostile file would exhaust the stack
 * there. Walked with an explicit stack for the same reason.
 */
function tooDeep(doc: CST.Document, limit: number): CST.Token | undefined {
  const stack: Array<[CST.Token | undefined, number]> = [[doc.value, 0]];
  while (stack.length) {
    const [token, depth] = stack.pop()!;
    if (!token) continue;
    if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth + 1 > limit) return token;
      for (const item of token.items) {
        if ('key' in item) stack.push([item.key ?? undefined, depth + 1]);
        stack.push([item.value, depth + 1]);
      }
    }
  }
  return undefined;
}

/** Where an alias that names no anchor sits, so the error points at it rather than at the document. */
function unresolvedAlias(doc: Document.Parsed): { name: string; offset: number } | undefined {
  let found: { name: string; offset: number } | undefined;
  visit(doc, {
    Alias(_, node) {
      if (isAlias(node) && node.resolve(doc) === undefined) {
        found = { name: node.source, offset: node.range?.[0] ?? 0 };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

export function parseYamlFile(file: string, bytes: Uint8Array, limits: LoadLimits): ParsedFile {
  const diagnostics: Diagnostic[] = [];
  const lines = new LineCounter();
  const bad = firstInvalidUtf8(bytes);
  if (bad !== undefined) {
    const text = new TextDecoder('utf-8').decode(bytes);
    const before = text.slice(0, bad);
    const line = before.split('\n').length;
    const col = bad - before.lastIndexOf('\n');
    diagnostics.push({
      severity: 'error',
      code: 'invalid-utf8',
      file,
      line,
      col,
      message: 'the file is not valid UTF-8',
      hint: 'save the file as UTF-8 (this byte sequence looks like Latin-1 or binary data)',
    });
    return { documents: [], diagnostics };
  }
  const source = new TextDecoder('utf-8').decode(bytes);
  const at = (offset: number) => lines.linePos(offset);
  const fromYamlError = (e: YAMLError, severity: 'error' | 'warning'): Diagnostic => {
    const { line, col } = at(e.pos[0]);
    const code = YAML_CODES[e.code] ?? 'yaml-syntax';
    const message =
      code === 'nesting-too-deep'
        ? `nesting deeper than ${limits.maxDepth} levels`
        : code === 'duplicate-key'
          ? 'duplicate key in the same mapping'
          : e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const hint = code === 'nesting-too-deep' ? DEPTH_HINT : YAML_HINTS[e.code];
    return { severity, code, file, line, col, message, ...(hint ? { hint } : {}) };
  };

  const tokens: CST.Token[] = [];
  for (const token of new Parser(lines.addNewLine).parse(source)) {
    const deep = token.type === 'document' ? tooDeep(token, limits.maxDepth) : undefined;
    if (!deep) {
      tokens.push(token);
      continue;
    }
    const { line, col } = at(deep.offset);
    diagnostics.push({
      severity: 'error',
      code: 'nesting-too-deep',
      file,
      line,
      col,
      message: `nesting deeper than ${limits.maxDepth} levels`,
      hint: DEPTH_HINT,
    });
  }
  const composer = new Composer({ uniqueKeys: true, prettyErrors: false, version: '1.2', strict: true });
  const documents: ParsedDocument[] = [];
  let index = 0;
  let noContent = true;
  for (const doc of composer.compose(tokens, true, source.length) as Iterable<Document.Parsed>) {
    const docIndex = index++;
    if (docIndex >= limits.maxDocumentsPerFile) {
      const { line, col } = at(doc.range[0]);
      diagnostics.push({
        severity: 'error',
        code: 'too-many-documents',
        file,
        line,
        col,
        message: `more than ${limits.maxDocumentsPerFile} documents in one file`,
        hint: 'split the file into several files',
      });
      break;
    }
    for (const w of doc.warnings) diagnostics.push(fromYamlError(w, 'warning'));
    if (doc.errors.length) {
      for (const e of doc.errors) diagnostics.push(fromYamlError(e, 'error'));
      continue;
    }
    const contents = doc.contents as Node | null;
    // `---` with nothing after it: an empty document, skipped like an empty file.
    if (contents === null || (isScalar(contents) && contents.value === null && !contents.source)) continue;
    noContent = false;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (e) {
      const missing = unresolvedAlias(doc);
      if (missing) {
        const { line, col } = at(missing.offset);
        diagnostics.push({
          severity: 'error',
          code: 'yaml-syntax',
          file,
          line,
          col,
          message: `unknown alias *${missing.name}`,
          hint: `define the anchor &${missing.name} earlier in the same document`,
        });
        continue;
      }
      const { line, col } = at(doc.range[0]);
      const aliases = e instanceof ReferenceError && /excessive alias count/i.test(e.message);
      diagnostics.push({
        severity: 'error',
        code: aliases ? 'too-many-aliases' : 'yaml-syntax',
        file,
        line,
        col,
        message: aliases
          ? `aliases expand too far (more than ${limits.maxAliasCount} alias uses); this looks like a "billion laughs" document`
          : `cannot read this document: ${(e as Error).message}`,
        hint: aliases ? 'write the values out, or use fewer, smaller anchors' : 'check the anchors and aliases in this document',
      });
      continue;
    }
    documents.push({ index: docIndex, value, locator: lazyYamlLocator(source, doc.range[0]), line: at(doc.range[0]).line });
  }
  if (noContent && diagnostics.length === 0) {
    diagnostics.push({
      severity: 'warning',
      code: 'empty-file',
      file,
      message: 'the file holds no documents',
      hint: 'add a resource or delete the file',
    });
  }
  return { documents, diagnostics };
}
