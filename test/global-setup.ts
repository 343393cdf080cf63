/**
 * Suite-wide canary: a secret value made up at the start of the run. Every command a test runs
 * records its output (test/helpers/cli.ts); at the end this file fails the run if any output ever
 * contained the canary. Checked here, centrally, so no test can forget it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    canary: string;
    outputLogDir: string;
  }
}

export default function setup(project: TestProject) {
  const canary = `canary-${randomBytes(16).toString('hex')}`;
  const outputLogDir = mkdtempSync(join(tmpdir(), 'clawops-outputs-'));
  project.provide('canary', canary);
  project.provide('outputLogDir', outputLogDir);
  return () => {
    const logs = readdirSync(outputLogDir);
    try {
      // A full run always records output; a run of a few files may not, and then proves nothing.
      if (logs.length === 0 && process.env.CI) throw new Error('canary check: no command output was recorded, so the check proves nothing');
      for (const f of logs) {
        const text = readFileSync(join(outputLogDir, f), 'utf8');
        const at = text.indexOf(canary);
        if (at >= 0) {
          throw new Error(`canary check: the test secret was printed by a command (log ${f}):\n${text.slice(Math.max(0, at - 400), at + 100)}`);
        }
      }
    } finally {
      rmSync(outputLogDir, { recursive: true, force: true });
    }
  };
}
