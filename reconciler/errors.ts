/**
 * Faults (as opposed to bad user input, which is a Diagnostic) are typed errors with a stable
 * `code` and structured `data`, so `--json` output and tests compare codes, not prose.
 */
export abstract class ClawopsError<D extends object = object> extends Error {
  abstract readonly code: string;
  readonly data: D;
  constructor(message: string, data: D, options?: { cause?: unknown }) {
    super(message, options);
    this.data = data;
    this.name = new.target.name;
  }

  toJSON(): { code: string; message: string; data: D } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

/** A usage problem the user can fix (bad flag, missing argument); exit code 1 unless given. */
export class UsageError extends ClawopsError<{ exitCode?: 1 | 2 }> {
  readonly code = 'USAGE';
}
