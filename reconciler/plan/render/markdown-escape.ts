/**
 * Putting untrusted strings (names, paths, values, gateway messages) into a GitHub comment
 * without them turning into markup, HTML, mentions or a fence that ends early.
 */
import { printable } from './printable.ts';

const longestRun = (s: string, ch: string): number => {
  let longest = 0;
  let run = 0;
  for (const c of s) {
    run = c === ch ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
};

/**
 * A code span: delimited by more backticks than any run inside, padded when the content starts or
 * ends with a backtick or space (CommonMark strips one space each side). GitHub does not link
 * mentions or issue numbers inside code, which is why identifiers are shown this way.
 */
export function codeSpan(text: string): string {
  const s = printable(text);
  if (s === '') return '(empty)';
  const ticks = '`'.repeat(longestRun(s, '`') + 1);
  const pad = /^[` ]|[` ]$/.test(s) ? ' ' : '';
  return `${ticks}${pad}${s}${pad}${ticks}`;
}

/** A fence for `content`: longer than any backtick run in it, so nothing inside can close it. */
export const fenceFor = (content: string): string => '`'.repeat(Math.max(3, longestRun(content, '`') + 1));

/** Text inside raw HTML (`<summary>`), where Markdown is not parsed. */
export const escapeHtml = (text: string): string =>
  printable(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/**
 * Prose in Markdown (gateway messages). Inline markup characters are backslash-escaped, HTML
 * becomes entities, and `@` / `#` are followed by a zero-width space so that a message naming
 * `@team` or `#12` neither pings anyone nor links an issue (the approach Renovate takes).
 */
export const escapeText = (text: string): string =>
  printable(text)
    .replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c)
    .replace(/[\\`*_[\]~!]/g, '\\$&')
    .replace(/[@#]/g, '$&&#8203;');

/** A table cell: a pipe would end the cell, even inside a code span, unless escaped. */
export const tableCell = (markdown: string): string => markdown.replace(/\|/g, '\\|');
