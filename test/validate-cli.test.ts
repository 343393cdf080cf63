import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { clawops, clawopsBin, ROOT } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

/** A repo from an inline file map, like changesets' `testdir`. */
function repo(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const config = `apiVersion: clawops.dev/v1\nkind: Repository\nspec:\n  secrets: { recipients: [${RECIPIENT}] }\n`;
const gateway = (name: string, env: string) =>
  `apiVersion: clawops.dev/v1\nkind: Gateway\nmetadata: { name: ${name}, labels: { env: ${env} } }\nspec:\n  url: ws://127.0.0.1:18789\n  auth: { token: { secretRef: tok } }\n`;
const agent = (name: string, target: string, extra = '') =>
  `apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: ${name}, labels: { team: a } }\nspec:\n  ${target}\n  config: { name: ${name} }\n${extra}`;

describe('clawops validate', () => {
  it('exits 2 when there is no repo to validate, and says how to start one', async () => {
    const missing = await clawops(['validate', '--repo', join(tmp, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is not a folder');
    const empty = repo('empty', { 'README.md': '# nothing\n' });
    const noConfig = await clawops(['validate', '--repo', empty]);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toContain('no clawops.yaml');
    expect(noConfig.stderr).toContain('clawops init');
  });

  it('reports every problem at once, sorted by file and line, in the documented format', async () => {
    const dir = repo('many', {
      'clawops.yaml': config,
      'secrets/tok.age': 'x',
      'b/gw.yaml': gateway('gw', 'prod'),
      'b/agents.yaml': agent('one', 'gateway: gw') + '---\n' + agent('two', 'gateway: gx') + '---\n' + agent('three', 'gateways: { matchLabels: { env: dev } }'),
      'a/typo.yaml': agent('four', 'gateway: gw').replace('config:', 'confg:'),
    });
    const r = await clawops(['validate', '--repo', dir]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      'a/typo.yaml:4:1  Agent/four  spec.config: missing required field "config" (The gateway\'s `agents.entries.<id>` object, exactly as OpenClaw stores it. Values may be `{ secretRef: NAME }` where a secret belongs.)',
      'a/typo.yaml:6:3  Agent/four  spec.confg: unknown field "confg" (did you mean "config"?)',
      'b/agents.yaml:12:12  Agent/two  spec.gateway: no Gateway named "gx" (did you mean "gw"?)',
      'b/agents.yaml:19:13  Agent/three  spec.gateways: selector env=dev matches no Gateway (check the labels on your Gateway resources)',
    ]);
    expect(r.stderr).toBe(`4 errors in ${dir}\n`);
  });

  it('--json output follows schemas/validate-output.schema.json', async () => {
    const dir = repo('json', { 'clawops.yaml': config, 'gw.yaml': gateway('gw', 'prod') + '---\n' + gateway('gw', 'dev') });
    const r = await clawops(['validate', '--repo', dir, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { valid: boolean; summary: { errors: number }; diagnostics: Array<{ code: string; line: number; related?: { line: number } }> };
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'validate-output.schema.json'), 'utf8')) as object;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.valid).toBe(false);
    // Both definitions of Gateway/gw are reported, each pointing at the other; plus the missing secret twice.
    const dups = report.diagnostics.filter((d) => d.code === 'duplicate-resource');
    expect(dups.map((d) => [d.line, d.related?.line])).toEqual([
      [3, 10],
      [10, 3],
    ]);
    expect(report.diagnostics.filter((d) => d.code === 'dangling-reference')).toHaveLength(2);
    expect(report.summary.errors).toBe(4);
  });

  it('skips dot-folders, node_modules and ignore globs, and follows symlinks that stay inside the repo', async () => {
    const broken = 'this: [is not: yaml\n';
    const dir = repo('walk', {
      'clawops.yaml': config.replace('spec:\n', 'spec:\n  ignore: ["drafts/**"]\n'),
      'secrets/tok.age': 'x',
      '.github/workflows/ci.yml': broken,
      'node_modules/x/y.yaml': broken,
      'drafts/wip.yaml': broken,
      'real/gw.yaml': gateway('gw', 'prod'),
    });
    const { symlinkSync } = await import('node:fs');
    symlinkSync(join(dir, 'real'), join(dir, 'linked'));
    const r = await clawops(['validate', '--repo', dir, '--json']);
    const report = JSON.parse(r.stdout) as { diagnostics: Array<{ code: string; file: string }> };
    // The symlinked folder is the same content, so Gateway/gw is now defined twice: proof it was followed.
    expect(report.diagnostics.map((d) => `${d.code} ${d.file}`).sort()).toEqual(['duplicate-resource linked/gw.yaml', 'duplicate-resource real/gw.yaml']);
  });

  it('the built binary validates the example fleet (exit 0) and reports a broken one without a stack trace (exit 1)', async () => {
    const ok = await clawopsBin(['validate', '--repo', 'examples/fleet']);
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const dir = repo('bin-bad', { 'clawops.yaml': config, 'x.yaml': 'apiVersion: clawops.dev/v1\nkind: Gateway\nmetadata: { name: Bad_Name }\n' });
    const bad = await clawopsBin(['validate', '--repo', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('x.yaml:3:19  Gateway/Bad_Name  metadata.name: "Bad_Name" is not in the expected form');
    expect(bad.stdout + bad.stderr).not.toMatch(/\n\s+at /);
  });
});
