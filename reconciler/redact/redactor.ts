/**
 * The one redaction layer every output path goes through (terminal, --json, logs, errors; later
 * plans and audit). It knows the values of every secret decrypted in this run, plus shapes that
 * are secrets wherever they appear (age identities, private key blocks).
 */

const ALWAYS_SECRET: ReadonlyArray<[RegExp, string]> = [
  [/AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]{20,}/g, '[REDACTED:age-identity]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED:private-key]'],
];

/** Values shorter than this are not redacted by value: masking "on" or "1" everywhere would destroy output. */
export const MIN_REDACTED_LENGTH = 6;

export class Redactor {
  private readonly values = new Map<string, string>();
  private pattern: RegExp | undefined;

  /** Registers a secret value (and the forms it takes inside JSON) under a name shown instead. */
  add(value: string, name = 'secret'): void {
    for (const form of new Set([value, value.trim(), JSON.stringify(value).slice(1, -1)])) {
      if (form.length >= MIN_REDACTED_LENGTH && !this.values.has(form)) this.values.set(form, `[REDACTED:${name}]`);
    }
    this.pattern = undefined;
  }

  redact(text: string): string {
    let out = text;
    for (const [re, label] of ALWAYS_SECRET) out = out.replace(re, label);
    if (this.values.size === 0) return out;
    // Longest first, so a secret that contains another is masked whole.
    this.pattern ??= new RegExp(
      [...this.values.keys()]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return out.replace(this.pattern, (m) => this.values.get(m) ?? '[REDACTED]');
  }
}
