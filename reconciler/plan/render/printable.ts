/**
 * Plans carry strings from YAML and from gateways (names, paths, messages). Rendered as they are,
 * an ANSI escape in a name could repaint a terminal and a bidi override could make a reviewer read
 * a different path than the one that is applied, so every such string is made visible first.
 */

/** C0/C1 controls, DEL, bidi embeddings/overrides/isolates, line/paragraph separators. */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const INVISIBLE_EXCEPT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const escape = (c: string): string => {
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
};

/** One line of text with every invisible or control character spelled out (`\n`, `\u001b`). */
export const printable = (s: string): string => s.replace(INVISIBLE, escape);

/** Like `printable`, but keeps line breaks (for multi-line messages that are indented, not joined). */
export const printableLines = (s: string): string[] => s.replace(/\r\n?/g, '\n').replace(INVISIBLE_EXCEPT_NEWLINE, escape).split('\n');

/**
 * `JSON.stringify` escapes C0 controls but leaves C1, bidi and separator characters raw; escaping
 * them too keeps the text valid JSON and makes it visible.
 */
export const jsonString = (s: string): string => JSON.stringify(s).replace(INVISIBLE, escape);
