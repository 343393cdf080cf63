/**
 * AuditLog over a real state branch (local bare repository): events are masked, numbered, chained
 * and appended to their UTC day file in the run's one commit; a writer that lost the race numbers
 * its events after the winner's; nothing queued is ever dropped.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_HEAD_FILE, AuditBranchCorruptError, AuditCommitError, AuditLog } from '../reconciler/audit/audit-log.ts';
import { canonicalLine, GENESIS_HASH, parseEventLine, type AuditEvent } from '../reconciler/audit/event.ts';
import { Masker } from '../reconciler/audit/masker.ts';
import { verifyAuditBranch, formatProblem } from '../reconciler/audit/verify.ts';
import { BufferedBranch } from '../reconciler/git/buffered-branch.ts';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { signerFromKeyFile } from '../reconciler/git/signing-key.ts';
import { auditFixture, BRANCH, changeEvent, commitOnTop, show, type AuditFixture } from './fixtures/audit/audit-branch.ts';

let f: AuditFixture;
beforeEach(async () => {
  f = await auditFixture();
});
afterEach(() => f.remove());

const eventsIn = (path: string, rev?: string): AuditEvent[] =>
  show(f, path, rev)
    .trimEnd()
    .split('\n')
    .map((l) => {
      const p = parseEventLine(l);
      if (!p.ok) throw new Error(p.problem);
      return p.event;
    });

describe('recording', () => {
  it('masks PII and secrets at record time, before anything reaches git', async () => {
    const log = await AuditLog.open(new BufferedBranch(f.branch), { masker: new Masker({ secretPaths: ['spec.config.channels.*.allowFrom'] }) });
    const queued = log.record({
      type: 'break-glass',
      actor: 'alice@example.com',
      traceId: 'run-1',
      target: 'prod-eu',
      resource: 'Agent/support',
      agentId: 'support',
      risk: 'critical',
      summary: { path: 'spec.config.channels.whatsapp', action: 'update', message: 'paged +1 415 555 0132', before: { allowFrom: ['+15551234567'], botToken: 'abc' }, after: { allowFrom: [], dmPolicy: 'open' } },
      approval: { kind: 'break-glass', by: 'bob@example.com', reason: 'token sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA leaked' },
    });
    expect(queued).toMatchObject({
      actor: '[email]',
      summary: { message: 'paged [phone]', before: { allowFrom: '[secret]', botToken: '[secret]' }, after: { allowFrom: '[secret]', dmPolicy: 'open' } },
      approval: { kind: 'break-glass', by: '[email]', reason: 'token [anthropic-key] leaked' },
    });
    await log.commit('audit: break-glass');
    const raw = f.git(['cat-file', '-p', `${BRANCH}:events/2026/11/21.jsonl`]);
    expect(raw).not.toMatch(/example\.com|5551234567|555 0132|sk-ant|"abc"/);
    expect(eventsIn('events/2026/11/21.jsonl')[0]).toMatchObject({ seq: 1, prev: GENESIS_HASH, actor: '[email]' });
  });

  it('a secret change keeps its keyed hashes, never a value', async () => {
    const log = await AuditLog.open(new BufferedBranch(f.branch));
    const e = log.record(changeEvent(1, { summary: { path: 'spec.config.models.providers.openai.apiKey', action: 'update', before: 'hmac:1111', after: 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789' } }));
    expect(e.summary).toMatchObject({ before: 'hmac:1111', after: '[secret]' });
  });

  it('refuses an event that would not verify, and normalizes times to UTC', async () => {
    const log = await AuditLog.open(new BufferedBranch(f.branch));
    expect(() => log.record(changeEvent(1, { type: 'Change Applied' }))).toThrow(/audit event Change Applied is not valid \(\/type: /);
    expect(() => log.record(changeEvent(1, { actor: '' }))).toThrow(/\/actor/);
    expect(() => log.record(changeEvent(1, { time: 'yesterday' }))).toThrow('time "yesterday" is not a date');
    expect(log.record(changeEvent(1, { time: '2026-11-22T01:30:00+02:00' })).time).toBe('2026-11-21T23:30:00.000Z');
    expect(log.pending).toBe(1);
  });
});

describe('committing', () => {
  it('numbers and chains events across runs, one commit per run, and keeps the audit head', async () => {
    const a = await f.run(3);
    const b = await f.run(2);
    expect([...a, ...b].map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(b[0]!.prev).toBe(a[2]!.hash);
    expect(f.git(['rev-list', '--count', BRANCH]).trim()).toBe('2');
    const lines = show(f, 'events/2026/11/21.jsonl').trimEnd().split('\n');
    expect(lines).toEqual([...a, ...b].map(canonicalLine));
    expect(JSON.parse(show(f, AUDIT_HEAD_FILE))).toEqual({ seq: 5, hash: b[1]!.hash, file: 'events/2026/11/21.jsonl' });
  });

  it('puts each event in the file of its UTC day, across midnight', async () => {
    const log = await AuditLog.open(new BufferedBranch(f.branch));
    log.record(changeEvent(1, { time: '2026-11-21T23:59:59.900Z' }));
    log.record(changeEvent(2, { time: '2026-11-22T00:00:00.100Z' }));
    await log.commit('audit: midnight');
    expect(eventsIn('events/2026/11/21.jsonl').map((e) => e.seq)).toEqual([1]);
    expect(eventsIn('events/2026/11/22.jsonl').map((e) => e.seq)).toEqual([2]);
    expect(JSON.parse(show(f, AUDIT_HEAD_FILE)).file).toBe('events/2026/11/22.jsonl');
    expect((await verifyAuditBranch(f.branch, { signers: f.signers })).problems).toEqual([]);
  });

  it('goes out with what the state store staged, in the same single commit', async () => {
    const buffered = new BufferedBranch(f.branch);
    buffered.stage('state/last-applied/prod-eu.json', '{"target":"prod-eu"}\n');
    const log = await AuditLog.open(buffered);
    log.record(changeEvent(1));
    await log.commit('audit: apply');
    expect(f.git(['rev-list', '--count', BRANCH]).trim()).toBe('1');
    expect(f.git(['ls-tree', '-r', '--name-only', BRANCH]).trim().split('\n')).toEqual(['events/2026/11/21.jsonl', 'state/audit-head.json', 'state/last-applied/prod-eu.json']);
  });

  it('re-sequences on top of another writer: two copies building on the same tip lose nothing and keep seq contiguous', async () => {
    const signer = await signerFromKeyFile(f.key.file);
    const other = await openStateBranch({ gitdir: f.gitdir, branch: BRANCH, signer, author: { name: 'clawops', email: 'clawops-audit@example.com' } });
    // Both writers' first build of a round waits for the other's: they build on the same tip, so one must lose the swap and rebuild.
    let arrived = 0;
    let release: () => void = () => undefined;
    let barrier = new Promise<void>((r) => (release = r));
    const builds: number[] = [0, 0];
    const writer = (branch: typeof other, w: number) => {
      const buffered = new BufferedBranch(branch);
      return {
        commit: (message: string, extra?: Parameters<BufferedBranch['commit']>[1]) =>
          buffered.commit(message, async (base) => {
            if (builds[w]!++ === 0) {
              if (++arrived === 2) release();
              await barrier;
            }
            return extra!(base);
          }),
      };
    };
    const logs = [await AuditLog.open(writer(f.branch, 0)), await AuditLog.open(writer(other, 1))];
    for (let round = 0; round < 5; round++) {
      arrived = 0;
      barrier = new Promise<void>((r) => (release = r));
      builds.fill(0);
      logs.forEach((log, w) => {
        for (let i = 0; i < 3; i++) log.record(changeEvent(1, { summary: { message: `writer ${w} round ${round} event ${i}` } }));
      });
      const written = await Promise.all(logs.map((log, w) => log.commit(`audit: writer ${w} round ${round}`)));
      // One of the two built twice: its events were numbered again after the winner's.
      expect(builds.sort()).toEqual([1, 2]);
      expect(written.flat().map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 6 }, (_, i) => round * 6 + i + 1));
    }
    const events = eventsIn('events/2026/11/21.jsonl');
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => e.summary.message)).size).toBe(30);
    const r = await verifyAuditBranch(f.branch, { signers: f.signers });
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(r.commitsChecked).toBe(10);
  });

  it('refuses to build on an inconsistent branch (audit head not matching the file), naming it', async () => {
    await f.run(2);
    commitOnTop(f, { [AUDIT_HEAD_FILE]: JSON.stringify({ seq: 7, hash: 'a'.repeat(64), file: 'events/2026/11/21.jsonl' }) + '\n' }, 'bad head', f.key);
    const log = await AuditLog.open(new BufferedBranch(f.branch));
    log.record(changeEvent(3));
    const e = await log.commit('audit: next').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AuditCommitError);
    expect((e as AuditCommitError).cause).toBeInstanceOf(AuditBranchCorruptError);
    expect((e as Error).message).toContain('the last line of events/2026/11/21.jsonl is not event 7 as state/audit-head.json says');
    expect(log.pending).toBe(1);
  });
});

describe('nothing is lost', () => {
  const failing = { commit: async () => Promise.reject(new Error('remote unreachable')) };

  it('keeps the events and spills them when the commit fails; the next run writes them first', async () => {
    const spillFile = join(f.dir, '.clawops', 'audit-pending.jsonl');
    const broken = await AuditLog.open(failing, { spillFile });
    broken.record(changeEvent(1, { actor: 'carol@example.com', summary: { message: 'first' } }));
    broken.record(changeEvent(2, { summary: { message: 'second' } }));
    const e = await broken.commit('audit: run').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AuditCommitError);
    expect((e as Error).message).toBe(`the audit commit failed (remote unreachable): 2 event(s) were not written; they were saved to ${spillFile} and the next run writes them first`);
    expect(broken.pending).toBe(2);
    // The spill holds masked events only.
    expect(readFileSync(spillFile, 'utf8')).not.toContain('carol@example.com');

    const next = await AuditLog.open(new BufferedBranch(f.branch), { spillFile });
    expect(next.pending).toBe(2);
    next.record(changeEvent(3, { summary: { message: 'third' } }));
    const written = await next.commit('audit: run');
    expect(written.map((w) => [w.seq, w.summary.message])).toEqual([
      [1, 'first'],
      [2, 'second'],
      [3, 'third'],
    ]);
    expect(existsSync(spillFile)).toBe(false);
    expect(readdirSync(join(f.dir, '.clawops'))).toEqual([]);
  });

  it('a second failure puts the taken-over events back in the spill, once', async () => {
    const spillFile = join(f.dir, 'spill.jsonl');
    const a = await AuditLog.open(failing, { spillFile });
    a.record(changeEvent(1));
    await a.commit('x').catch(() => undefined);
    const b = await AuditLog.open(failing, { spillFile });
    b.record(changeEvent(2));
    await b.commit('x').catch(() => undefined);
    expect(readFileSync(spillFile, 'utf8').trimEnd().split('\n')).toHaveLength(2);
    expect(readdirSync(f.dir).filter((n) => n.startsWith('spill.jsonl.'))).toEqual([]);
  });

  it('adopts a spill claimed by a run that died', async () => {
    const spillFile = join(f.dir, 'spill.jsonl');
    // pid 2^22+1 is above Linux's default pid_max: no such process.
    writeFileSync(`${spillFile}.4194305-0a0b0c0d.claimed`, JSON.stringify({ ...changeEvent(1), time: '2026-11-21T09:00:00.000Z' }) + '\n');
    const log = await AuditLog.open(new BufferedBranch(f.branch), { spillFile });
    expect(log.pending).toBe(1);
    expect((await log.commit('audit: adopted')).map((e) => e.seq)).toEqual([1]);
  });

  it('names the line of a damaged spill file', async () => {
    const spillFile = join(f.dir, 'spill.jsonl');
    writeFileSync(spillFile, JSON.stringify({ ...changeEvent(1), time: '2026-11-21T09:00:00.000Z' }) + '\n{"type":"change.app');
    const e = await AuditLog.open(new BufferedBranch(f.branch), { spillFile }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/spill\.jsonl\.\d+-[0-9a-f]{8}\.claimed:2 is not an audit event/);
  });
});
