/**
 * Swaps `process.env` for a plain-object copy. Node's real `process.env` calls into C++ on every
 * read, and the yaml parser reads `process.env.LOG_TOKENS` once per token: on a large fleet repo
 * that is about a second of a validate run. Only the process entry calls this, once, before any
 * work; clawops never changes its own environment, so a snapshot behaves the same, and child
 * processes still inherit it (spawn reads `process.env`).
 */
export function snapshotProcessEnv(): void {
  process.env = { ...process.env };
}
