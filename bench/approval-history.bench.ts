/**
 * The git side of the approval check at apply time: for each gated change set, walk main's
 * first-parent line back to the agent's last-applied commit and find the steps that touched its
 * files. A fleet-wide change (a template or policy edit) gates hundreds of agents at once, all
 * over the same history, so one reader per run remembers lines, trees and parents.
 *
 * Repo: 2,000 commits on main (built with `git fast-import`), 500 agent files, each commit edits
 * one of them. 500 change sets, each since the commit 200 steps back (a busy day between two
 * applies). Reports the median of 5 runs with one shared reader (what apply does), and what one
 * change set costs with a reader of its own (the walk and index every time).
 * Target: all 500 change sets in ≤ 2 s with the shared reader.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { MainLineReader } from '../reconciler/git/first-parent.ts';
import { formatTable, type BenchResult } from './report.ts';
import { median } from './stats.ts';

const COMMITS = 2_000;
const AGENTS = 500;
const SINCE = 200;
const RUNS = 5;

const exec = promisify(execFile);

/** A fast-import stream: COMMITS commits on main, commit i rewriting agents/agent-(i % AGENTS).yaml. */
function stream(): string {
  const parts: string[] = [];
  for (let i = 1; i <= COMMITS; i++) {
    const body = `kind: Agent\nmetadata: { name: agent-${i % AGENTS} }\nspec: { config: { model: { primary: m-${i} } } }\n`;
    const message = `step ${i}`;
    parts.push(
      `commit refs/heads/main\nmark :${i}\ncommitter bench <bench@example.com> ${1_700_000_000 + i} +0000\ndata ${message.length}\n${message}\n`,
      ...(i > 1 ? [`from :${i - 1}\n`] : []),
      `M 100644 inline agents/agent-${i % AGENTS}.yaml\ndata ${Buffer.byteLength(body)}\n${body}\n`,
    );
  }
  return parts.join('');
}

async function fastImport(gitdir: string): Promise<void> {
  await exec('git', ['init', '-q', '--bare', '-b', 'main', gitdir]);
  await new Promise<void>((done, fail) => {
    const p = spawn('git', ['--git-dir', gitdir, 'fast-import', '--quiet'], { stdio: ['pipe', 'ignore', 'inherit'] });
    p.on('error', fail);
    p.on('exit', (code) => (code === 0 ? done() : fail(new Error(`git fast-import exited ${code}`))));
    p.stdin.end(stream());
  });
}

async function checkAll(gitdir: string, head: string, base: string, shared: boolean, agents = AGENTS): Promise<{ ms: number; touching: number }> {
  const start = performance.now();
  let reader = new MainLineReader(gitdir);
  let touching = 0;
  for (let a = 0; a < agents; a++) {
    if (!shared) reader = new MainLineReader(gitdir);
    const { byPath } = await reader.touched(head, base);
    touching += byPath.get(`agents/agent-${a}.yaml`)?.length ?? 0;
  }
  return { ms: performance.now() - start, touching };
}

export async function run(): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-bench-history-'));
  try {
    const gitdir = join(dir, 'fleet.git');
    await fastImport(gitdir);
    const head = (await exec('git', ['--git-dir', gitdir, 'rev-parse', 'main'])).stdout.trim();
    const base = (await exec('git', ['--git-dir', gitdir, 'rev-parse', `main~${SINCE}`])).stdout.trim();
    const shared: number[] = [];
    const fresh: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const s = await checkAll(gitdir, head, base, true);
      // Every commit since the base touched exactly one agent: the walks must find each once.
      if (s.touching !== SINCE) throw new Error(`found ${s.touching} touching steps, expected ${SINCE}`);
      shared.push(s.ms);
      fresh.push((await checkAll(gitdir, head, base, false, 1)).ms);
    }
    const result: BenchResult = {
      name: `approval check, git side: ${AGENTS} change sets × ${SINCE.toLocaleString('en-US')} main-line commits (repo of ${COMMITS.toLocaleString('en-US')}), median of ${RUNS}`,
      metrics: [
        { label: `all ${AGENTS} change sets, one reader (apply)`, value: Math.round(median(shared)), unit: 'ms', max: 2000 },
        { label: 'per change set, one reader', value: Number((median(shared) / AGENTS).toFixed(2)), unit: 'ms' },
        { label: 'one change set with its own reader', value: Math.round(median(fresh)), unit: 'ms' },
        { label: `${AGENTS} change sets with their own readers (estimate)`, value: Math.round(median(fresh) * AGENTS), unit: 'ms' },
      ],
    };
    console.log(formatTable(result));
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
