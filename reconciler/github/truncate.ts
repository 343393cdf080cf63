/**
 * Fits Markdown into one of GitHub's length limits (comment body 65,536 characters, check-run
 * summary and text 65,535) by cutting at a line boundary, closing what the cut left open (a code
 * fence, `<details>` sections) and saying where the rest is.
 */

export interface Fitted {
  readonly text: string;
  readonly truncated: boolean;
}

/** Closing markup for what `text` leaves open, so a cut never swallows the note or breaks the page. */
function closers(text: string): string {
  let out = '';
  const fences = text.match(/^ {0,3}(```|~~~)/gm) ?? [];
  if (fences.length % 2 === 1) out += '\n' + fences[fences.length - 1]!.trim();
  const open = (text.match(/<details\b/gi) ?? []).length - (text.match(/<\/details>/gi) ?? []).length;
  for (let i = 0; i < open; i++) out += '\n</details>';
  return out;
}

/** Cuts `s` to at most `max` UTF-16 units without splitting a surrogate pair. */
function cutUnits(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * `text` unchanged when it fits in `limit` characters; else as many whole lines as fit with the
 * closing markup and `note` after them. Lengths are UTF-16 units, never fewer than GitHub's count.
 */
export function fitMarkdown(text: string, limit: number, note: string): Fitted {
  if (text.length <= limit) return { text, truncated: false };
  const tail = (kept: string) => `${kept}${closers(kept)}\n\n${note}`;
  const cutAtLine = (s: string, max: number) => {
    const end = s.lastIndexOf('\n', max);
    return end > 0 ? s.slice(0, end) : cutUnits(s, Math.max(0, max));
  };
  let kept = cutAtLine(text, limit - note.length - 2);
  let out = tail(kept);
  // The closers need room too: drop whole lines until everything fits.
  while (out.length > limit && kept.length > 0) {
    kept = cutAtLine(kept, kept.length - (out.length - limit) - 1);
    out = tail(kept);
  }
  return { text: cutUnits(out, limit), truncated: true };
}
