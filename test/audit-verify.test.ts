/**
 * The tamper suite: a branch written by clawops, then changed with native git the way someone
 * with push access (sometimes with the signing key too) would. Every case must be caught with a
 * message naming the commit, the file and the line.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_HEAD_FILE } from '../reconciler/audit/audit-log.ts';
import { canonicalLine, sealEvent, type AuditEvent } from '../reconciler/audit/event.ts';
import { formatProblem, verifyAuditBranch, type VerifyResult } from '../reconciler/audit/verify.ts';
import { parseAllowedSigners } from '../reconciler/git/sshsig.ts';
import { allowedSignersText, auditFixture, commitOnTop, REF, rewriteHistory, show, type AuditFixture } from './fixtures/audit/audit-branch.ts';

const FILE = 'events/2026/11/21.jsonl';

let f: AuditFixture;

beforeEach(async () => {
  f = await auditFixture();
  // Three runs of four events: seq 1–12 on one day file, three signed commits.
  for (let r = 0; r < 3; r++) await f.run(4);
});
afterEach(() => f.remove());

const verify = (opts: Partial<Parameters<typeof verifyAuditBranch>[1]> = {}): Promise<VerifyResult> => verifyAuditBranch(f.branch, { signers: f.signers, ...opts });
const lines = (rev = REF): string[] => show(f, FILE, rev).trimEnd().split('\n');
const short = (oid: string) => oid.slice(0, 7);
const subject = (oid: string) => f.git(['log', '-1', '--format=%s', oid]).trim();
const messages = (r: VerifyResult) => r.problems.map(formatProblem);
const verifiedHead = (r: VerifyResult) => ({ oid: r.head!, seq: r.last.seq, hash: r.last.hash });

describe('an untouched branch', () => {
  it('verifies: every commit, every event, the chain up to seq 12', async () => {
    const r = await verify();
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, commitsChecked: 3, eventsChecked: 12, last: { seq: 12 } });
    expect(r.last.hash).toBe(JSON.parse(lines().at(-1)!).hash);
  });

  it('is verified incrementally after a verified head: only the new commits are checked', async () => {
    const first = await verify();
    await f.run(4);
    const r = await verify({ verified: verifiedHead(first) });
    expect(r).toMatchObject({ ok: true, from: first.head, commitsChecked: 1, eventsChecked: 4, last: { seq: 16 } });
    const full = await verify({ verified: verifiedHead(first), full: true });
    expect(full).toMatchObject({ ok: true, from: undefined, commitsChecked: 4, eventsChecked: 16 });
  });

  it('passes native `git verify-commit` on every commit', async () => {
    const allowed = `${f.dir}/allowed_signers`;
    for (const oid of f.git(['rev-list', REF]).trim().split('\n')) {
      expect(() => f.git(['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'verify-commit', oid])).not.toThrow();
    }
    expect(f.git(['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'log', '--format=%G?', REF]).trim().split('\n')).toEqual(['G', 'G', 'G']);
  });
});

describe('tampering', () => {
  it('an edited event (new commit signed with the real key): names the commit, file and line', async () => {
    const l = lines();
    l[4] = l[4]!.replace('"actor":"ci:github-actions"', '"actor":"ci:someone-else"');
    const c = commitOnTop(f, { [FILE]: l.join('\n') + '\n' }, 'audit: fix typo', f.key);
    const r = await verify();
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ code: 'edited', commit: { oid: c, subject: 'audit: fix typo' }, file: FILE, line: 5 });
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("audit: fix typo"), ${FILE} line 5: seq 5 was edited after it was written (the line differs from the one committed earlier)`);
    expect(r.problems).toHaveLength(1);
  });

  it('an edited event in rewritten history, every commit re-signed with the real key: the hash gives it away', async () => {
    // The attacker edits seq 3 where it was first written and re-signs everything after; no head was verified yet.
    const rewritten = rewriteHistory(f, (path, text) => (path === FILE ? text.replace('"message":"change 3"', '"message":"nothing to see"') : text), f.key);
    const r = await verify();
    expect(r.problems[0]).toMatchObject({ code: 'hash-mismatch', commit: { oid: rewritten[0] }, file: FILE, line: 3 });
    expect(messages(r)[0]).toBe(`commit ${short(rewritten[0]!)} ("audit: run 1"), ${FILE} line 3: seq 3 does not match its own hash: the event was edited after it was written`);
  });

  it('a deleted event', async () => {
    const l = lines();
    l.splice(6, 1);
    const c = commitOnTop(f, { [FILE]: l.join('\n') + '\n' }, 'audit: cleanup', f.key);
    const r = await verify();
    expect(r.problems).toHaveLength(1);
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("audit: cleanup"), ${FILE} line 7: seq 7 was deleted from line 7 (the lines after it moved up)`);
  });

  it('reordered events', async () => {
    const l = lines();
    [l[3], l[4]] = [l[4]!, l[3]!];
    const c = commitOnTop(f, { [FILE]: l.join('\n') + '\n' }, 'audit: reorder', f.key);
    const r = await verify();
    expect(r.problems).toHaveLength(1);
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("audit: reorder"), ${FILE} line 4: line 4 now holds seq 5 and seq 4 moved to line 5: events were reordered`);
  });

  it('an unsigned commit', async () => {
    const c = commitOnTop(f, { 'state/note.json': '{}\n' }, 'add a note', undefined);
    const r = await verify();
    expect(r.problems).toHaveLength(1);
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("add a note"): is not signed: every audit commit is signed by clawops, so this one was written by something else`);
  });

  it('a commit signed by an unknown key', async () => {
    const c = commitOnTop(f, { 'state/note.json': '{}\n' }, 'add a note', f.otherKey);
    const r = await verify();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ code: 'unknown-key', commit: { oid: c, subject: 'add a note' } });
    expect(messages(r)[0]).toBe(
      `commit ${short(c)} ("add a note"): is signed by key ${f.otherKey.fingerprint}, which is not in allowed_signers: an unknown writer (or a key to add to allowed_signers)`,
    );
  });

  it('a key used outside its validity window', async () => {
    const signers = parseAllowedSigners(allowedSignersText([{ principal: 'clawops-audit@example.com', key: f.key, options: 'namespaces="git",valid-before="20261121100005Z"' }]), 'allowed_signers');
    const r = await verify({ signers });
    // The fixture's clock: the first commit is at 10:00:05 or earlier, the later ones after.
    expect(r.problems.map((p) => p.code)).toEqual(['key-not-valid', 'key-not-valid']);
    expect(messages(r)[0]).toMatch(/^commit [0-9a-f]{7} \("audit: run 2"\): is signed by clawops-audit@example.com \(SHA256:.+\) at 2026-11-21T10:00:\d\dZ, outside that key's validity in allowed_signers$/);
  });

  it('a forged previous-hash (hash recomputed, audit head updated: only the chain catches it)', async () => {
    const last = JSON.parse(lines().at(-1)!) as AuditEvent;
    const forged = sealEvent({ ...last, seq: 13, prev: 'f'.repeat(64), summary: { message: 'forged' } });
    const c = commitOnTop(
      f,
      { [FILE]: show(f, FILE) + canonicalLine(forged) + '\n', [AUDIT_HEAD_FILE]: JSON.stringify({ seq: 13, hash: forged.hash, file: FILE }) + '\n' },
      'audit: run 4',
      f.key,
    );
    const r = await verify();
    expect(r.problems).toHaveLength(1);
    expect(messages(r)[0]).toBe(
      `commit ${short(c)} ("audit: run 4"), ${FILE} line 13: seq 13 has prev ffffffffffff…, but the hash of seq 12 is ${last.hash.slice(0, 12)}…: the chain is broken (a forged or re-inserted event)`,
    );
  });

  it('a duplicated seq', async () => {
    const last = JSON.parse(lines().at(-1)!) as AuditEvent;
    const dup = sealEvent({ ...last, prev: last.hash, summary: { message: 'again' } });
    const c = commitOnTop(f, { [FILE]: show(f, FILE) + canonicalLine(dup) + '\n' }, 'audit: run 4', f.key);
    const r = await verify();
    expect(r.problems[0]).toMatchObject({ code: 'seq-duplicate', commit: { oid: c }, file: FILE, line: 13 });
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("audit: run 4"), ${FILE} line 13: seq 12 was already used at ${FILE}:12 (the branch was at seq 12): a duplicated or replayed event`);
  });

  it('a truncated file (cut in the middle of the last event)', async () => {
    const text = show(f, FILE);
    const c = commitOnTop(f, { [FILE]: text.slice(0, text.length - 40) }, 'audit: compact', f.key);
    const r = await verify();
    expect(r.problems).toHaveLength(1);
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("audit: compact"), ${FILE} line 12: the file was truncated in the middle of line 12 (seq 12)`);
  });

  it('a truncated file (whole lines cut from the end)', async () => {
    const c = commitOnTop(f, { [FILE]: lines().slice(0, 9).join('\n') + '\n' }, 'audit: compact', f.key);
    const r = await verify();
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("audit: compact"), ${FILE} line 10: the file was truncated: 3 event(s) (seq 10–12) from line 10 on are gone`);
  });

  it('a deleted events file', async () => {
    const c = commitOnTop(f, { [FILE]: null }, 'audit: rotate', f.key);
    const r = await verify();
    expect(messages(r)[0]).toBe(`commit ${short(c)} ("audit: rotate"), ${FILE} line 1: the file was deleted, removing 12 event(s) (seq 1–12): audit events are never deleted`);
  });

  it('events appended by hand without the audit head (a writer other than clawops)', async () => {
    const last = JSON.parse(lines().at(-1)!) as AuditEvent;
    const next = sealEvent({ ...last, seq: 13, prev: last.hash });
    const c = commitOnTop(f, { [FILE]: show(f, FILE) + canonicalLine(next) + '\n' }, 'manual', f.key);
    const r = await verify();
    expect(r.problems.map((p) => p.code)).toEqual(['head-not-updated']);
    expect(messages(r)[0]).toMatch(new RegExp(`^commit ${short(c)} \\("manual"\\), state/audit-head.json: events were appended`));
  });

  it('a force-pushed rewrite after the head was verified (re-signed with the real key)', async () => {
    const good = await verify();
    const rewritten = rewriteHistory(f, (path, text) => (path === FILE ? text.replace('"message":"change 6"', '"message":"rewritten"') : text), f.key);
    const r = await verify({ verified: verifiedHead(good) });
    expect(r.ok).toBe(false);
    // The first rewritten commit is the root: every oid after an edit changes.
    expect(r.problems[0]).toMatchObject({ code: 'rewritten', commit: { oid: rewritten[0] } });
    expect(messages(r)[0]).toBe(
      `commit ${short(rewritten[0]!)} ("audit: run 1"): the last verified head ${short(good.head!)} (seq 12) is no longer in the branch's history, which was rewritten from this commit on: history was rewritten (a force push)`,
    );
  });

  it('a rewrite of only the last commit (a legitimate-looking writer, after a reset)', async () => {
    const good = await verify();
    const parent = f.git(['rev-parse', `${REF}~1`]).trim();
    f.git(['update-ref', REF, parent]);
    await f.run(2, { message: 'audit: replacement run' });
    const r = await verify({ verified: verifiedHead(good) });
    expect(r.problems).toHaveLength(1);
    const tip = f.tip();
    expect(messages(r)[0]).toBe(
      `commit ${short(tip)} ("audit: replacement run"): the last verified head ${short(good.head!)} (seq 12) is no longer in the branch's history, which was rewritten from this commit on: history was rewritten (a force push)`,
    );
  });

  it('an old state replayed (the tip moved back to an ancestor of the verified head)', async () => {
    const good = await verify();
    const old = f.git(['rev-parse', `${REF}~2`]).trim();
    f.git(['update-ref', REF, old]);
    const r = await verify({ verified: verifiedHead(good) });
    expect(r.problems).toHaveLength(1);
    expect(messages(r)[0]).toBe(
      `commit ${short(old)} ("${subject(old)}"): the branch tip is an older commit (seq 4) than the last verified head ${short(good.head!)} (seq 12): an old state of the branch was replayed (pushed back over newer history)`,
    );
  });

  it('a pinned head (clawops.yaml) that left the history', async () => {
    const pinned = f.tip();
    f.git(['update-ref', REF, f.git(['rev-parse', `${REF}~1`]).trim()]);
    const r = await verify({ pinned });
    expect(r.problems.map((p) => p.code)).toEqual(['pin-missing']);
    expect(messages(r)[0]).toContain(`the head pinned in clawops.yaml (audit.verifiedHead ${short(pinned)})`);
  });

  it('reports several independent tampers, each at its place', async () => {
    const l = lines();
    l[1] = l[1]!.replace('change 2', 'change two');
    const c1 = commitOnTop(f, { [FILE]: l.join('\n') + '\n' }, 'edit', f.key);
    const c2 = commitOnTop(f, { 'state/x.json': '{}\n' }, 'unsigned', undefined);
    const r = await verify();
    expect(r.problems.map((p) => [p.code, p.commit?.oid, p.line])).toEqual([
      ['edited', c1, 2],
      ['unsigned', c2, undefined],
    ]);
  });
});
