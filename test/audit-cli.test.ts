/**
 * `clawops audit verify|search|show|trace` as users run them, on a fleet repo whose audit branch
 * lives in its own .git (local mode): exit codes, the one-line-per-problem failure report, the
 * remembered verified head, and stable --json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { signerFromKeyFile } from '../reconciler/git/signing-key.ts';
import { startGitHttpServer } from './helpers/git-http-server.ts';
import { AuditLog } from '../reconciler/audit/audit-log.ts';
import type { AuditEventInput } from '../reconciler/audit/event.ts';
import { verifiedHeadFile } from '../reconciler/audit/verify.ts';
import { BufferedBranch } from '../reconciler/git/buffered-branch.ts';
import { clawops } from './helpers/cli.ts';
import { auditFixture, commitOnTop, REF, show, type AuditFixture } from './fixtures/audit/audit-branch.ts';

const RECIPIENT = 'age17c6588uu7wupqe06087gyevzcvgd5wn4r5dumkeask8tlpvmff4q0um4xx';
const FILE = 'events/2026/11/21.jsonl';

let repo: string;
let f: AuditFixture;

const writeConfig = (audit: string) =>
  writeFileSync(join(repo, 'clawops.yaml'), `apiVersion: clawops.dev/v1\nkind: Repository\nspec:\n  secrets:\n    recipients: [${RECIPIENT}]\n${audit}`);

beforeEach(async () => {
  repo = mkdtempSync(join(tmpdir(), 'clawops-audit-cli-'));
  execFileSync('git', ['init', '--quiet', repo]);
  f = await auditFixture({ dir: repo, gitdir: join(repo, '.git') });
  writeConfig('  audit:\n    allowedSigners: allowed_signers\n');
});
afterEach(() => f.remove());

const verify = (...extra: string[]) => clawops(['audit', 'verify', '--repo', repo, ...extra]);
const short = (oid: string) => oid.slice(0, 7);

describe('audit verify', () => {
  it('exits 0 on an intact branch, remembers the head, and then checks only new commits', async () => {
    for (let r = 0; r < 3; r++) await f.run(4);
    const first = await verify();
    expect(first).toMatchObject({ code: 0, stdout: '' });
    expect(first.stderr).toBe(`audit verify: clawops/audit is intact at ${short(f.tip())} (seq 12): 3 commit(s), 12 event(s) checked\n`);
    const record = JSON.parse(readFileSync(verifiedHeadFile(repo), 'utf8'));
    expect(record['clawops/audit']).toMatchObject({ oid: f.tip(), seq: 12, verifiedAt: '2026-11-21T12:00:00.000Z' });

    const before = f.tip();
    await f.run(2);
    const second = await verify();
    expect(second.stderr).toBe(`audit verify: clawops/audit is intact at ${short(f.tip())} (seq 14): 1 new commit(s) since the verified head ${short(before)}, 2 event(s) checked\n`);
    expect((await verify('--full')).stderr).toContain('4 commit(s), 14 event(s) checked');
  });

  it('exits 1 naming the commit, file and line of a tamper, without a stack trace, and keeps the old verified head', async () => {
    for (let r = 0; r < 2; r++) await f.run(3);
    await verify();
    const lines = show(f, FILE).trimEnd().split('\n');
    lines[1] = lines[1]!.replace('change 2', 'change 2 (edited)');
    const c = commitOnTop(f, { [FILE]: lines.join('\n') + '\n' }, 'audit: quiet fix', f.key);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `audit verify: clawops/audit FAILED, 1 problem(s):\n  commit ${short(c)} ("audit: quiet fix"), ${FILE} line 2: seq 2 was edited after it was written (the line differs from the one committed earlier)\n`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(JSON.parse(readFileSync(verifiedHeadFile(repo), 'utf8'))['clawops/audit'].oid).not.toBe(c);
  });

  it('--json: a stable report with each problem as data', async () => {
    await f.run(2);
    const c = commitOnTop(f, { 'state/x.json': '{}\n' }, 'unsigned change', undefined);
    const r = await verify('--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toEqual({
      formatVersion: 1,
      ok: false,
      branch: 'clawops/audit',
      head: c,
      commitsChecked: 2,
      eventsChecked: 2,
      last: { seq: 2, hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
      problems: [{ code: 'unsigned', commit: { oid: c, subject: 'unsigned change' }, message: expect.stringContaining('is not signed') }],
    });
  });

  it('detects an old state pushed back over a verified head', async () => {
    for (let r = 0; r < 3; r++) await f.run(1);
    expect((await verify()).code).toBe(0);
    const old = f.git(['rev-parse', `${REF}~1`]).trim();
    f.git(['update-ref', REF, old]);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`commit ${short(old)} ("audit: run 2"): the branch tip is an older commit (seq 2) than the last verified head`);
  });

  it('honours a head pinned in clawops.yaml', async () => {
    await f.run(1);
    await f.run(1);
    const pinned = f.tip();
    f.git(['update-ref', REF, f.git(['rev-parse', `${REF}~1`]).trim()]);
    writeConfig(`  audit:\n    allowedSigners: allowed_signers\n    verifiedHead: ${pinned}\n`);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the head pinned in clawops.yaml (audit.verifiedHead ${short(pinned)})`);
  });

  it('--allowed-signers overrides clawops.yaml; a key missing from it fails every commit it signed', async () => {
    await f.run(1);
    writeFileSync(join(repo, 'other_signers'), `someone@example.com namespaces="git" ${f.otherKey.pub}\n`);
    const r = await verify('--allowed-signers', join(repo, 'other_signers'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`is signed by key ${f.key.fingerprint}, which is not in ${join(repo, 'other_signers')}`);
  });

  it('bad input: one clear line, exit 1', async () => {
    await f.run(1);
    writeConfig('');
    expect(await verify()).toMatchObject({ code: 1, stderr: expect.stringMatching(/^clawops: audit verify needs the allowed signers: pass --allowed-signers FILE, or set spec.audit.allowedSigners/) });
    const missing = await verify('--allowed-signers', 'nope');
    expect(missing).toMatchObject({ code: 1, stderr: 'clawops: cannot read the allowed signers nope: no such file\n' });
    writeFileSync(join(repo, 'broken_signers'), 'just-a-name\n');
    const broken = await verify('--allowed-signers', join(repo, 'broken_signers'));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^clawops: .*broken_signers:1/);
    expect(broken.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('with an http(s) origin: fetches the whole history from the remote, then verifies it', async () => {
    const server = await startGitHttpServer();
    try {
      const url = await server.createRepo('fleet');
      const remote = await openStateBranch({ gitdir: join(repo, 'writer.git'), branch: 'clawops/audit', remote: { url }, signer: await signerFromKeyFile(f.key.file), author: { name: 'ci', email: 'ci@example.com' } });
      for (let r = 0; r < 3; r++) {
        const log = await AuditLog.open(new BufferedBranch(remote));
        log.record({ type: 'apply.started', actor: 'ci', traceId: `run-${r}`, target: 'prod-eu', resource: 'Gateway/prod-eu', summary: { message: `run ${r}` } });
        await log.commit(`audit: run ${r}`);
      }
      execFileSync('git', ['-C', repo, 'remote', 'add', 'origin', url]);
      const r = await verify();
      expect(r).toMatchObject({ code: 0, stderr: expect.stringContaining('(seq 3): 3 commit(s), 3 event(s) checked') });
      expect((await clawops(['audit', 'search', '--repo', repo, '--json'])).stdout).toContain('"traceId": "run-2"');
    } finally {
      await server.close();
    }
  });

  it('an empty branch verifies (nothing written yet)', async () => {
    expect(await verify()).toMatchObject({ code: 0, stderr: 'audit verify: clawops/audit has no commits yet; nothing to verify\n' });
    expect(existsSync(verifiedHeadFile(repo))).toBe(false);
  });
});

describe('audit search, show, trace', () => {
  const ev = (time: string, over: Partial<AuditEventInput>): AuditEventInput => ({
    type: 'change.applied',
    actor: 'ci:deploy',
    traceId: 'run-1',
    target: 'prod-eu',
    resource: 'Agent/support',
    agentId: 'support',
    risk: 'low',
    summary: { path: 'spec.config.model.primary', action: 'update', before: 'a', after: 'b' },
    time,
    ...over,
  });

  beforeEach(async () => {
    const log = await AuditLog.open(new BufferedBranch(f.branch));
    log.record(ev('2026-11-19T08:00:00.000Z', { type: 'apply.started', risk: undefined, resource: 'Gateway/prod-eu', agentId: undefined, summary: { message: '3 changes' } }));
    log.record(ev('2026-11-19T08:00:01.000Z', { risk: 'high', summary: { path: 'spec.config.tools.deny', action: 'update', category: 'tools', before: ['exec'], after: [] } }));
    log.record(ev('2026-11-19T08:00:02.000Z', { type: 'change.held', risk: 'critical', agentId: 'ops', resource: 'Agent/ops', summary: { message: 'waiting for 2 approvals from security' } }));
    await log.commit('audit: run 1');
    log.record(ev('2026-11-21T11:00:00.000Z', { traceId: 'run-2', target: 'prod-us', agentId: 'ops', resource: 'Agent/ops', risk: 'medium', summary: { message: 'model switched for alice@example.com' } }));
    log.record(ev('2026-11-21T11:30:00.000Z', { type: 'drift.detected', traceId: 'run-3', target: 'prod-us', agentId: 'ops', resource: 'Agent/ops', risk: 'medium', summary: { path: 'spec.config.model.primary', message: 'changed by the gateway CLI' } }));
    await log.commit('audit: run 2');
  });

  const seqs = async (...args: string[]) => {
    const r = await clawops(['audit', 'search', '--repo', repo, '--json', ...args]);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as { events: Array<{ seq: number }> }).events.map((e) => e.seq);
  };

  it('filters by every field, alone and together', async () => {
    expect(await seqs()).toEqual([1, 2, 3, 4, 5]);
    expect(await seqs('--gateway', 'prod-us')).toEqual([4, 5]);
    expect(await seqs('--agent', 'ops')).toEqual([3, 4, 5]);
    expect(await seqs('--type', 'change.*')).toEqual([2, 3, 4]);
    expect(await seqs('--risk', 'high+')).toEqual([2, 3]);
    expect(await seqs('--risk', 'low,medium')).toEqual([4, 5]);
    expect(await seqs('--trace', 'run-1')).toEqual([1, 2, 3]);
    expect(await seqs('--text', 'APPROVALS')).toEqual([3]);
    expect(await seqs('--since', '2026-11-20')).toEqual([4, 5]);
    expect(await seqs('--until', '2026-11-19')).toEqual([1, 2, 3]);
    expect(await seqs('--since', '45m')).toEqual([5]);
    expect(await seqs('--since', '2026-11-19T08:00:01Z', '--until', '2026-11-21T11:00:00Z', '--agent', 'ops')).toEqual([3, 4]);
    expect(await seqs('--limit', '2')).toEqual([4, 5]);
    expect(await seqs('--gateway', 'nowhere')).toEqual([]);
  });

  it('prints one line per event, masked as written', async () => {
    const r = await clawops(['audit', 'search', '--repo', repo, '--agent', 'ops']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        '#3  2026-11-19 08:00:02Z  change.held       critical  prod-eu  Agent/ops (ops)  waiting for 2 approvals from security',
        '#4  2026-11-21 11:00:00Z  change.applied    medium    prod-us  Agent/ops (ops)  model switched for [email]',
        '#5  2026-11-21 11:30:00Z  drift.detected    medium    prod-us  Agent/ops (ops)  spec.config.model.primary: changed by the gateway CLI',
        '',
      ].join('\n'),
    );
    expect((await clawops(['audit', 'search', '--repo', repo, '--gateway', 'none'])).stderr).toBe('no events match\n');
  });

  it('rejects bad filters with one line', async () => {
    expect(await clawops(['audit', 'search', '--repo', repo, '--risk', 'severe'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^clawops: --risk "severe" is not a risk/) });
    expect(await clawops(['audit', 'search', '--repo', repo, '--since', 'yesterday'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^clawops: --since "yesterday" is not a time/) });
  });

  it('show SEQ: every field; --json the event as written', async () => {
    const r = await clawops(['audit', 'show', '2', '--repo', repo]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('seq       2\n');
    expect(r.stdout).toContain('change    update (tools) spec.config.tools.deny\nbefore    ["exec"]\nafter     []\n');
    const json = JSON.parse((await clawops(['audit', 'show', '2', '--repo', repo, '--json'])).stdout);
    expect(json.event).toMatchObject({ seq: 2, risk: 'high', traceId: 'run-1' });
    expect(JSON.stringify(json.event)).toBe(show(f, 'events/2026/11/19.jsonl').split('\n')[1]);
    expect(await clawops(['audit', 'show', '99', '--repo', repo])).toMatchObject({ code: 1, stderr: 'clawops: no event with seq 99 on clawops/audit; `clawops audit search` lists them\n' });
    expect(await clawops(['audit', 'show', 'two', '--repo', repo])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^clawops: "two" is not an event number/) });
  });

  it('trace TRACE_ID: the events of one run in order', async () => {
    const r = await clawops(['audit', 'trace', 'run-1', '--repo', repo]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual(['#1', '#2', '#3']);
    expect(await clawops(['audit', 'trace', 'run-9', '--repo', repo])).toMatchObject({ code: 1, stderr: 'clawops: no events with trace id "run-9" on clawops/audit\n' });
  });
});
