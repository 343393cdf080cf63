/**
 * The bad-input corpus: every folder under test/corpus/cases/ is one broken fleet repo, made by
 * laying the folder's files over the valid repo in test/corpus/base/, plus an `expect.yaml` naming
 * the diagnostics a user must see. Every case must exit 1, name the file (and line:col and field
 * where they exist), and print no stack trace.
 *
 * expect.yaml:
 *   description: what is broken
 *   remove: [paths]        base files to delete first (optional)
 *   generate: <name>       a generator below, for content that must not sit in git (optional)
 *   expect:                diagnostics that must be present (others may be too)
 *     - { file, line?, col?, field?, code, message }   message is a substring; col may be `any`
 *
 * An expectation must give line/col and field whenever the matching diagnostic has them, so the
 * corpus cannot silently stop checking positions. Durations are collected, never asserted; set
 * CLAWOPS_CORPUS_TIMES=1 to print them.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Diagnostic } from '../reconciler/diagnostics/diagnostic.ts';
import { clawops } from './helpers/cli.ts';

const CORPUS = join(import.meta.dirname, 'corpus');
const BASE = join(CORPUS, 'base');
const CASES = join(CORPUS, 'cases');

interface Expected {
  readonly file: string;
  readonly line?: number;
  /** `any` only where the column is not stable (see the case's expect.yaml). */
  readonly col?: number | 'any';
  readonly field?: string;
  readonly code: string;
  readonly message: string;
}

interface CaseSpec {
  readonly description: string;
  readonly remove?: string[];
  readonly generate?: string;
  readonly expect: Expected[];
}

interface GenerateContext {
  /** The repo under test. */
  readonly repo: string;
  /** An existing folder next to the repo, i.e. outside it. */
  readonly outside: string;
  /** Repo-relative paths of the case's own files (without expect.yaml). */
  readonly overlay: readonly string[];
}

const AGENT_HEAD = 'apiVersion: clawops.dev/v1\nkind: Agent\nmetadata:\n  name: generated\nspec:\n  gateway: dev\n  config:\n';

/** Rewrites each overlay file of the case. */
const eachOverlay = (f: (text: string) => string | Buffer) => (c: GenerateContext) => {
  for (const p of c.overlay) writeFileSync(join(c.repo, p), f(readFileSync(join(c.repo, p), 'utf8')));
};

/** Content that must not be committed: huge, deep, binary, or easily "fixed" by an editor or git. */
const GENERATORS: Record<string, (c: GenerateContext) => void> = {
  /** 50 MiB, written sparse: the size check must refuse it before reading. */
  'huge-file': (c) => {
    const file = join(c.repo, 'agents', 'huge.yaml');
    writeFileSync(file, AGENT_HEAD);
    truncateSync(file, 50 * 1024 * 1024);
  },
  /** 10,000 nested flow sequences inside an Agent's config. */
  'deep-nesting': (c) => writeFileSync(join(c.repo, 'agents', 'deep.yaml'), `${AGENT_HEAD}    params: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`),
  /** 1,001 valid Agents in one file (the limit is 1,000 documents). */
  'many-documents': (c) =>
    writeFileSync(
      join(c.repo, 'agents', 'many.yaml'),
      Array.from({ length: 1001 }, (_, i) => `---\n{ apiVersion: clawops.dev/v1, kind: Agent, metadata: { name: a${i} }, spec: { gateway: dev, config: {} } }\n`).join(''),
    ),
  /** `<C3 28>` in an overlay file becomes those two bytes: an invalid UTF-8 sequence. */
  'invalid-utf8': eachOverlay((t) => Buffer.concat(t.split('<C3 28>').flatMap((part, i) => (i ? [Buffer.from([0xc3, 0x28]), Buffer.from(part)] : [Buffer.from(part)])))),
  /** A byte-order mark before each overlay file. */
  bom: eachOverlay((t) => `\uFEFF${t}`),
  /** Windows line endings in each overlay file. */
  crlf: eachOverlay((t) => t.replace(/\n/g, '\r\n')),
  /** `<TAB>` in an overlay file becomes a tab character. */
  tabs: eachOverlay((t) => t.replaceAll('<TAB>', '\t')),
  /** x.yaml → /etc/passwd. */
  'symlink-file-outside': (c) => symlinkSync('/etc/passwd', join(c.repo, 'x.yaml')),
  /** shared/ → a folder outside the repo holding a YAML resource. */
  'symlink-dir-outside': (c) => {
    writeFileSync(join(c.outside, 'gateway.yaml'), readFileSync(join(BASE, 'gateways', 'dev.yaml')));
    symlinkSync(c.outside, join(c.repo, 'shared'));
  },
  /** gone.yaml → a file that does not exist. */
  'dangling-symlink': (c) => symlinkSync(join(c.outside, 'deleted.yaml'), join(c.repo, 'gone.yaml')),
};

function loadCase(dir: string): CaseSpec {
  const spec = parse(readFileSync(join(dir, 'expect.yaml'), 'utf8')) as CaseSpec;
  if (typeof spec.description !== 'string' || !Array.isArray(spec.expect) || spec.expect.length === 0) {
    throw new Error(`${dir}/expect.yaml needs a description and at least one expected diagnostic`);
  }
  if (spec.generate !== undefined && !Object.hasOwn(GENERATORS, spec.generate)) throw new Error(`${dir}/expect.yaml: no generator "${spec.generate}"`);
  return spec;
}

/** Files of a case folder, repo-relative, without expect.yaml. */
function overlayFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((p) => p !== 'expect.yaml');
}

const matches = (d: Diagnostic, e: Expected): boolean =>
  d.file === e.file &&
  d.code === e.code &&
  d.message.includes(e.message) &&
  (e.line === undefined || d.line === e.line) &&
  (e.col === undefined || e.col === 'any' || d.col === e.col) &&
  (e.field === undefined || d.field === e.field);

const STACK_FRAME = /\n\s+at /;
const caseNames = readdirSync(CASES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();
const tmp = mkdtempSync(join(tmpdir(), 'clawops-corpus-'));
const durations = new Map<string, number>();

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  if (process.env.CLAWOPS_CORPUS_TIMES && durations.size) {
    const sorted = [...durations].sort((a, b) => a[1] - b[1]);
    const [slowName, slowMs] = sorted[sorted.length - 1]!;
    const median = sorted[Math.floor(sorted.length / 2)]![1];
    // eslint-disable-next-line no-console -- opt-in timing report, asked for by CLAWOPS_CORPUS_TIMES
    console.log(`corpus: ${sorted.length} cases, median ${median.toFixed(1)} ms, slowest ${slowName} ${slowMs.toFixed(1)} ms (json + text runs)`);
  }
});

describe('bad-input corpus', () => {
  it('has at least 60 cases, and its base repo is valid', async () => {
    expect(caseNames.length).toBeGreaterThanOrEqual(60);
    const r = await clawops(['validate', '--repo', BASE, '--json']);
    expect(r.stdout).toContain('"diagnostics": []');
    expect(r.code).toBe(0);
  });

  for (const name of caseNames) {
    const dir = join(CASES, name);
    const spec = loadCase(dir);
    it(`${name}: ${spec.description}`, async () => {
      const root = join(tmp, name);
      const repo = join(root, 'repo');
      const outside = join(root, 'outside');
      mkdirSync(outside, { recursive: true });
      cpSync(BASE, repo, { recursive: true });
      const overlay = overlayFiles(dir);
      for (const p of spec.remove ?? []) rmSync(join(repo, p), { recursive: true });
      for (const p of overlay) cpSync(join(dir, p), join(repo, p));
      if (spec.generate) GENERATORS[spec.generate]!({ repo, outside, overlay });

      const started = performance.now();
      const json = await clawops(['validate', '--repo', repo, '--json']);
      const text = await clawops(['validate', '--repo', repo]);
      durations.set(name, performance.now() - started);

      for (const out of [json.stdout, json.stderr, text.stdout, text.stderr]) {
        expect(out).not.toMatch(STACK_FRAME);
        expect(out).not.toContain('internal error');
      }
      expect(json.code).toBe(1);
      expect(text.code).toBe(1);
      const { diagnostics } = JSON.parse(json.stdout) as { diagnostics: Diagnostic[] };
      const lines = text.stdout.split('\n');
      const got = `got:\n${text.stdout}`;
      for (const e of spec.expect) {
        const d = diagnostics.find((x) => matches(x, e));
        expect(d, `no diagnostic ${JSON.stringify(e)}; ${got}`).toBeDefined();
        if (!d) continue;
        // The corpus pins every position and field the loader reports.
        if (d.line !== undefined) expect([e.line, e.col === 'any' ? d.col : e.col], `expect.yaml must give line/col for ${JSON.stringify(e)}`).toEqual([d.line, d.col]);
        if (d.field !== undefined) expect(e.field, `expect.yaml must give the field for ${JSON.stringify(e)}`).toBe(d.field);
        const where = e.line === undefined ? `${e.file}  ` : `${e.file}:${e.line}:${e.col === 'any' ? '' : `${e.col ?? 1}  `}`;
        const line = lines.find((l) => l.startsWith(where) && l.includes(e.message) && (!e.field || l.includes(`${e.field}: `)));
        expect(line, `no text line starting "${where}" with ${e.field ?? '(no field)'} and "${e.message}"; ${got}`).toBeDefined();
      }
    });
  }
});
