/**
 * Two writers, each with its own local copy, appending through AuditLog to one branch on a real
 * git smart-HTTP server (git http-backend on loopback), committing at the same moment, 50 rounds.
 * The compare-and-swap push lets exactly one win each race; the loser re-sequences on the new tip.
 * Afterwards a third copy fetches the whole history: no event lost or doubled, seq 1..N, chain
 * and signatures intact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AuditLog } from '../reconciler/audit/audit-log.ts';
import { readEvents } from '../reconciler/audit/search.ts';
import { formatProblem, verifyAuditBranch } from '../reconciler/audit/verify.ts';
import { BufferedBranch } from '../reconciler/git/buffered-branch.ts';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { signerFromKeyFile } from '../reconciler/git/signing-key.ts';
import { parseAllowedSigners } from '../reconciler/git/sshsig.ts';
import { startGitHttpServer, type GitHttpServer } from './helpers/git-http-server.ts';
import { allowedSignersText, BRANCH, changeEvent, makeKey } from './fixtures/audit/audit-branch.ts';

const ROUNDS = 50;
const PER_COMMIT = 2;

let server: GitHttpServer;
let dir: string;
beforeAll(async () => {
  server = await startGitHttpServer();
  dir = mkdtempSync(join(tmpdir(), 'clawops-audit-race-'));
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it(`two writers racing on one remote branch for ${ROUNDS} rounds: 0 lost events, seq contiguous, chain intact`, { timeout: 120_000 }, async () => {
  const url = await server.createRepo('fleet');
  const key = makeKey(dir, 'audit-key');
  const signer = await signerFromKeyFile(key.file);
  const signers = parseAllowedSigners(allowedSignersText([{ principal: 'clawops-audit@example.com', key }]), 'allowed_signers');
  const open = (name: string) =>
    openStateBranch({ gitdir: join(dir, `${name}.git`), branch: BRANCH, remote: { url }, signer, author: { name: `clawops ${name}`, email: 'clawops-audit@example.com' } });
  let builds = 0;
  const counting = (buffered: BufferedBranch) => ({
    commit: (message: string, extra?: Parameters<BufferedBranch['commit']>[1]) =>
      buffered.commit(message, async (base) => {
        builds++;
        return extra!(base);
      }),
  });
  const writers = await Promise.all(['a', 'b'].map(async (name) => ({ name, log: await AuditLog.open(counting(new BufferedBranch(await open(name)))) })));

  let lost = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of writers) for (let i = 0; i < PER_COMMIT; i++) w.log.record(changeEvent(1, { traceId: `${w.name}-${round}`, summary: { message: `${w.name}/${round}/${i}` } }));
    const results = await Promise.allSettled(writers.map((w) => w.log.commit(`audit: writer ${w.name} round ${round}`)));
    lost += results.filter((r) => r.status === 'rejected').length;
  }
  expect(lost).toBe(0);

  const reader = await open('reader');
  await reader.fetch({ full: true });
  const { events, unreadable } = await readEvents(await reader.at());
  expect(unreadable).toBe(0);
  const n = ROUNDS * writers.length * PER_COMMIT;
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  const expected = writers.flatMap((w) => Array.from({ length: ROUNDS }, (_, r) => Array.from({ length: PER_COMMIT }, (_, i) => `${w.name}/${r}/${i}`)).flat());
  expect(events.map((e) => e.summary.message).sort()).toEqual(expected.sort());
  // Each writer's events of one run stay in order, even when re-sequenced after the other's.
  for (const w of writers) {
    const mine = events.filter((e) => e.traceId.startsWith(`${w.name}-`)).map((e) => e.summary.message);
    expect(mine).toEqual(expected.filter((m) => m!.startsWith(`${w.name}/`)).sort((x, y) => (order(x!) < order(y!) ? -1 : 1)));
  }
  const r = await verifyAuditBranch(reader, { signers });
  expect(r.problems.map(formatProblem)).toEqual([]);
  expect(r).toMatchObject({ ok: true, commitsChecked: ROUNDS * writers.length, eventsChecked: n });
  // The races were real: losers rebuilt their commit (re-sequencing their events) on the winner's tip.
  expect(builds).toBeGreaterThan(ROUNDS * writers.length);
  expect(server.pushes).toBeGreaterThanOrEqual(ROUNDS * writers.length);
});

/** `a/12/1` → a sortable key in round, then event order. */
const order = (m: string): string => {
  const [, round, i] = m.split('/');
  return `${round!.padStart(4, '0')}/${i}`;
};
