import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KIND_NAMES } from '../reconciler/model/kinds.ts';
import { clawops, clawopsBin } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-init-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('clawops init', () => {
  it('scaffolds a repo with one example of every kind that validates clean', async () => {
    const dir = join(tmp, 'fresh');
    const r = await clawops(['init', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('fleet repo created');
    const v = await clawops(['validate', '--repo', dir, '--json']);
    const report = JSON.parse(v.stdout) as { valid: boolean; summary: { resources: number; warnings: number } };
    expect(v.code).toBe(0);
    expect(report).toMatchObject({ valid: true, summary: { warnings: 0 } });
    const kinds = new Set(
      walk(dir)
        .filter((f) => f.endsWith('.yaml'))
        .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^kind: (\w+)$/gm)].map((m) => m[1])),
    );
    for (const k of [...KIND_NAMES, 'Repository']) expect(kinds, k).toContain(k);
    expect(report.summary.resources).toBeGreaterThanOrEqual(KIND_NAMES.length);
    // Its policy comes with passing table tests.
    const tests = await clawops(['policy', 'test', join(dir, 'policies')]);
    expect(tests.stdout).toContain('PASS: 2/2 cases passed');
    expect(tests.code).toBe(0);
  });

  it('points every YAML file at a schema file that exists, for editors', () => {
    const dir = join(tmp, 'fresh');
    const yamls = walk(dir).filter((f) => /\.ya?ml$/.test(f) && !f.includes('.github'));
    expect(yamls.length).toBeGreaterThanOrEqual(8);
    for (const f of yamls) {
      const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(f, 'utf8'));
      expect(m, relative(dir, f)).not.toBeNull();
      expect(existsSync(join(f, '..', m![1]!)), relative(dir, f)).toBe(true);
    }
  });

  it('keeps the generated age identity out of git and can decrypt the placeholder secret', async () => {
    const dir = join(tmp, 'fresh');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toContain('.clawops/age-identity.txt');
    expect(statSync(join(dir, '.clawops/age-identity.txt')).mode & 0o077).toBe(0);
    const r = await clawops(['secrets', 'get', 'gateway-token', '--repo', dir, '--identity', join(dir, '.clawops/age-identity.txt')]);
    expect(r).toMatchObject({ code: 0, stdout: 'replace-with-the-gateway-token' });
  });

  it('refuses to overwrite anything and changes nothing when a file is in the way', async () => {
    const dir = join(tmp, 'taken');
    const existing = join(dir, 'clawops.yaml');
    await clawops(['init', join(tmp, 'scratch')]);
    rmSync(join(tmp, 'scratch'), { recursive: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(existing, 'mine: true\n');
    const r = await clawops(['init', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('never overwrites');
    expect(r.stderr).toContain('clawops.yaml');
    expect(readdirSync(dir)).toEqual(['clawops.yaml']);
    expect(readFileSync(existing, 'utf8')).toBe('mine: true\n');
  });

  it('works end to end through the built binary', async () => {
    const dir = join(tmp, 'bin');
    expect((await clawopsBin(['init', dir])).code).toBe(0);
    const v = await clawopsBin(['validate', '--repo', dir]);
    expect(v).toMatchObject({ code: 0, stdout: '' });
  });
});
