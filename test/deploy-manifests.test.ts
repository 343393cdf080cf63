/**
 * The sharding manifests in examples/deploy (DESIGN §11, docs/sharding.md) hold the facts that
 * make sharding work: every index of the Kubernetes Indexed Job and every value of the Actions
 * matrix yields a distinct, valid `--shard I/N`, together exactly 1..N with one N everywhere, so
 * the shards partition any fleet. The container's command is run by a real `sh` (with `clawops`
 * stubbed) rather than pattern-matched. Each check is also shown to catch an N edited in only one place.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { inShard, parseShard, type Shard } from '../reconciler/live/shard.ts';

const root = join(import.meta.dirname, '..');
const K8S = join(root, 'examples/deploy/kubernetes/reconcile-cronjob.yaml');
const GHA = join(root, 'examples/deploy/github-actions/reconcile.yml');
const FLEET = Array.from({ length: 500 }, (_, i) => `gw-${String(i).padStart(4, '0')}`);

type Json = Record<string, unknown>;
const at = (v: unknown, ...path: Array<string | number>): unknown => path.reduce<unknown>((o, k) => (o as Record<string | number, unknown> | undefined)?.[k], v);

/** Problems with a list of `--shard` texts meant to be shards 1..n of n (n from elsewhere in the manifest). */
function shardProblems(texts: readonly string[], n: unknown): string[] {
  const problems: string[] = [];
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) return [`N is not a positive integer: ${String(n)}`];
  if (texts.length !== n) problems.push(`${texts.length} shard arguments for N = ${n}`);
  const shards: Shard[] = [];
  for (const text of texts) {
    const s = parseShard(text);
    if ('error' in s) problems.push(`--shard ${text}: ${s.error}`);
    else if (s.count !== n) problems.push(`--shard ${text} says N = ${s.count}, the manifest ${n}`);
    else shards.push(s);
  }
  const indexes = shards.map((s) => s.index).sort((a, b) => a - b);
  if (JSON.stringify(indexes) !== JSON.stringify(Array.from({ length: n }, (_, i) => i + 1))) problems.push(`shards ${indexes.join(',')} are not exactly 1..${n}`);
  // With 1..N of N, rendezvous hashing puts every name in exactly one shard.
  const owners = FLEET.map((name) => shards.filter((s) => inShard(name, s)).length);
  if (owners.some((c) => c !== 1)) problems.push(`${owners.filter((c) => c !== 1).length} of ${FLEET.length} gateways are not in exactly one shard`);
  return problems;
}

/** Runs the container's `sh -c` script with `clawops` stubbed to print its arguments and exit `stubExit`. */
function runScript(script: string, index: number, stubExit = 0): { args: string[]; code: number } {
  const r = spawnSync('sh', ['-c', `clawops() { printf '%s\\n' "$@"; return ${stubExit}; }\n${script}`], { env: { PATH: process.env.PATH, JOB_COMPLETION_INDEX: String(index) }, encoding: 'utf8' });
  return { args: r.stdout.split('\n').filter(Boolean), code: r.status ?? -1 };
}
const shardArg = (args: readonly string[]): string => args[args.indexOf('--shard') + 1] ?? '';

const intervalSeconds = (cron: string): number | undefined => {
  const m = /^\*\/(\d+) \* \* \* \*$/.exec(cron.trim());
  return m ? Number(m[1]) * 60 : undefined;
};

function cronJobOf(text: string): Json {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Json);
  const job = docs.find((d) => d.kind === 'CronJob');
  if (!job) throw new Error('no CronJob in the manifest');
  return job;
}
const reconcileContainer = (job: Json): Json => (at(job, 'spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers') as Json[]).find((c) => c.name === 'reconcile')!;

function cronJobProblems(job: Json): string[] {
  const spec = at(job, 'spec', 'jobTemplate', 'spec') as Json;
  const problems: string[] = [];
  if (job.apiVersion !== 'batch/v1') problems.push(`apiVersion ${String(job.apiVersion)}`);
  if (at(job, 'spec', 'concurrencyPolicy') !== 'Forbid') problems.push('concurrencyPolicy is not Forbid');
  if (spec.completionMode !== 'Indexed') problems.push('completionMode is not Indexed');
  if (spec.completions !== spec.parallelism) problems.push(`completions ${String(spec.completions)} != parallelism ${String(spec.parallelism)}`);
  const script = (reconcileContainer(job).command as string[])[2]!;
  const texts = Array.from({ length: Number(spec.completions) || 0 }, (_, i) => shardArg(runScript(script, i).args));
  problems.push(...shardProblems(texts, spec.completions));
  return problems;
}

describe('Kubernetes CronJob (examples/deploy/kubernetes/reconcile-cronjob.yaml)', () => {
  const text = readFileSync(K8S, 'utf8');
  const job = cronJobOf(text);

  it('indexed completions give shards 1..N of the same N, which partition a 500-gateway fleet', () => {
    expect(cronJobProblems(job)).toEqual([]);
    const n = at(job, 'spec', 'jobTemplate', 'spec', 'completions');
    expect(n).toBe(4);
    const script = (reconcileContainer(job).command as string[])[2]!;
    expect(runScript(script, 0).args).toEqual(['reconcile', '--once', '--repo', '/fleet', '--shard', '1/4']);
  });

  it('breaks when N is edited in one place only', () => {
    for (const [from, to] of [
      ['completions: 4', 'completions: 5'],
      ['parallelism: 4', 'parallelism: 3'],
      [')/4', ')/5'],
      ['JOB_COMPLETION_INDEX + 1', 'JOB_COMPLETION_INDEX'],
    ] as const) {
      expect(text).toContain(from);
      expect(cronJobProblems(cronJobOf(text.replace(from, to))), `${from} → ${to}`).not.toEqual([]);
    }
  });

  it('exit 2 (drift or held changes) ends the pod successfully; errors still fail it', () => {
    const script = (reconcileContainer(job).command as string[])[2]!;
    expect([0, 1, 2].map((code) => runScript(script, 0, code).code)).toEqual([0, 1, 0]);
  });

  it('a run ends before the next is scheduled; secrets come from a Secret; memory fits the benchmark; the clone lands where reconcile runs', () => {
    const spec = at(job, 'spec', 'jobTemplate', 'spec') as Json;
    const interval = intervalSeconds(String(at(job, 'spec', 'schedule')));
    expect(interval).toBeDefined();
    expect(spec.activeDeadlineSeconds).toBeLessThan(interval!);
    expect(spec.backoffLimit).toEqual(expect.any(Number));
    expect(at(spec, 'template', 'spec', 'restartPolicy')).toBe('Never');
    const c = reconcileContainer(job);
    const env = c.env as Json[];
    for (const name of ['CLAWOPS_AGE_IDENTITY', 'GITHUB_TOKEN']) expect(at(env.find((e) => e.name === name), 'valueFrom', 'secretKeyRef', 'name')).toBe('clawops');
    const mib = (q: unknown) => Number(/^(\d+)Mi$/.exec(String(q))?.[1]);
    // bench/fleet: a 1,000-gateway plan peaks at ~370 MB RSS.
    expect(mib(at(c, 'resources', 'requests', 'memory')) * 1.048576).toBeGreaterThan(370);
    expect(mib(at(c, 'resources', 'limits', 'memory'))).toBeGreaterThanOrEqual(mib(at(c, 'resources', 'requests', 'memory')));
    const init = (at(spec, 'template', 'spec', 'initContainers') as Json[])[0]!;
    const mountOf = (x: Json) => (x.volumeMounts as Json[]).find((m) => m.name === 'fleet')?.mountPath;
    expect(mountOf(init)).toBe(c.workingDir);
    expect(String((init.command as string[])[2])).toContain(`clone`);
    expect(String((init.command as string[])[2])).toMatch(new RegExp(`${String(c.workingDir)}$`));
  });
});

describe('GitHub Actions matrix (examples/deploy/github-actions/reconcile.yml)', () => {
  const text = readFileSync(GHA, 'utf8');
  const actionInputs = Object.keys((parse(readFileSync(join(root, 'actions/action.yml'), 'utf8')) as { inputs: Json }).inputs);
  const stepOf = (wf: Json): Json => (at(wf, 'jobs', 'reconcile', 'steps') as Json[]).find((s) => String(s.uses).includes('clawops/clawops/actions'))!;

  function workflowProblems(wf: Json): string[] {
    const job = at(wf, 'jobs', 'reconcile') as Json;
    const problems: string[] = [];
    if (at(job, 'strategy', 'fail-fast') !== false) problems.push('fail-fast is not false');
    if (!String(at(job, 'concurrency', 'group')).includes('${{ matrix.shard }}')) problems.push('concurrency is not per shard');
    const values = at(job, 'strategy', 'matrix', 'shard') as unknown[];
    const template = String(at(stepOf(wf), 'with', 'shard'));
    const texts = values.map((v) => template.replaceAll('${{ matrix.shard }}', String(v)));
    problems.push(...shardProblems(texts, values.length));
    return problems;
  }

  const wf = parse(text) as Json;
  it('matrix values × the shard template give shards 1..N of the same N, which partition a 500-gateway fleet', () => {
    expect(workflowProblems(wf)).toEqual([]);
    expect(at(wf, 'jobs', 'reconcile', 'strategy', 'matrix', 'shard')).toEqual([1, 2, 3, 4]);
    expect(at(stepOf(wf), 'with', 'command')).toBe('reconcile');
  });

  it('breaks when N is edited in one place only', () => {
    for (const [from, to] of [
      ['shard: [1, 2, 3, 4]', 'shard: [1, 2, 3, 4, 5]'],
      ['shard: [1, 2, 3, 4]', 'shard: [1, 2, 3]'],
      ['shard: [1, 2, 3, 4]', 'shard: [0, 1, 2, 3]'],
      ['}}/4', '}}/8'],
    ] as const) {
      expect(text).toContain(from);
      expect(workflowProblems(parse(text.replace(from, to)) as Json), `${from} → ${to}`).not.toEqual([]);
    }
  });

  it('passes only inputs the Action declares (shard included)', () => {
    expect(actionInputs).toContain('shard');
    for (const key of Object.keys(stepOf(wf).with as Json)) expect(actionInputs).toContain(key);
    expect(at(wf, 'jobs', 'reconcile', 'timeout-minutes')).toBeLessThan(intervalSeconds(String(at(wf, 'on', 'schedule', 0, 'cron')))! / 60);
  });
});
