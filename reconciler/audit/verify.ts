/**
 * `clawops audit verify`: proves the audit branch is what clawops wrote (DESIGN §6).
 *
 * - every commit is signed by an allowed key that was valid at the commit's time;
 * - every commit only appends whole lines to events files (an edited, deleted, reordered or
 *   truncated line is named: commit, file, line);
 * - every appended event is well-formed and canonical, its `hash` matches its content, `seq`
 *   continues the branch without gap or duplicate and `prev` is the hash of the event before;
 * - `state/audit-head.json` names the last event;
 * - history only grew since the last verified head (kept locally, optionally pinned in
 *   clawops.yaml): a head that is no longer in the history means a rewrite (force push); a tip
 *   that is an ancestor of it means an old state was replayed.
 *
 * Incremental by default: commits up to the last verified head were checked before, so only the
 * ones after it get the full checks (`full` re-checks everything). Each events file is kept in
 * memory as of the last commit seen, so checking a commit costs reading the files it changed once
 * and comparing bytes, never re-reading history.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AllowedSigners } from '../git/sshsig.ts';
import { verifyCommitSignature } from '../git/sshsig.ts';
import type { BranchCommit, StateBranch, TreeView } from '../git/state-branch.ts';
import { ClawopsError } from '../errors.ts';
import { AUDIT_HEAD_FILE, type AuditHead } from './audit-log.ts';
import { EVENT_FILE_PATTERN, eventFile, GENESIS_HASH, parseEventLine, type AuditEvent } from './event.ts';

/** The last commit verified, and the chain's state there. */
export interface VerifiedHead {
  readonly oid: string;
  readonly seq: number;
  readonly hash: string;
}

export const PROBLEM_CODES = [
  'unsigned',
  'bad-signature',
  'unknown-key',
  'key-not-valid',
  'merge-commit',
  'shallow',
  'unexpected-file',
  'file-deleted',
  'edited',
  'deleted',
  'reordered',
  'truncated',
  'invalid-event',
  'hash-mismatch',
  'out-of-order',
  'seq-gap',
  'seq-duplicate',
  'chain-broken',
  'wrong-file',
  'head-mismatch',
  'head-not-updated',
  'rewritten',
  'replayed',
  'pin-missing',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface AuditProblem {
  readonly code: ProblemCode;
  readonly commit?: { readonly oid: string; readonly subject: string };
  readonly file?: string;
  readonly line?: number;
  /** What was found and what it means. */
  readonly message: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly branch: string;
  /** The tip verified (undefined: the branch has no commits). */
  readonly head: string | undefined;
  /** Where full checks started: after this commit (incremental), or at the root when undefined. */
  readonly from: string | undefined;
  readonly commitsChecked: number;
  readonly eventsChecked: number;
  /** The chain's state at the tip. */
  readonly last: { readonly seq: number; readonly hash: string };
  readonly problems: readonly AuditProblem[];
}

export interface VerifyOptions {
  readonly signers: AllowedSigners;
  /** The head this machine verified last (readVerifiedHead). */
  readonly verified?: VerifiedHead | undefined;
  /** A commit clawops.yaml pins: it must stay in the history. */
  readonly pinned?: string | undefined;
  /** Re-check every commit, not only those after the verified head. */
  readonly full?: boolean;
  /** Stop collecting after this many problems (default 50). */
  readonly maxProblems?: number;
}

const short = (oid: string): string => oid.slice(0, 7);
const subjectOf = (c: BranchCommit): string => c.message.split('\n', 1)[0]!.trim();

/** One line, e.g. `commit 1a2b3c4 ("audit: apply"), events/2026/11/21.jsonl line 5: …`. */
export function formatProblem(p: AuditProblem): string {
  const where = [
    p.commit ? `commit ${short(p.commit.oid)} ("${p.commit.subject}")` : undefined,
    p.file ? `${p.file}${p.line !== undefined ? ` line ${p.line}` : ''}` : undefined,
  ].filter(Boolean);
  return `${where.length ? `${where.join(', ')}: ` : ''}${p.message}`;
}

class TooManyProblems extends Error {}

interface FileState {
  readonly bytes: Buffer;
  readonly lines: number;
}

const countLines = (b: Buffer): number => {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
};

const seqIn = (line: string | undefined): number | undefined => {
  const m = line === undefined ? null : /^\{"seq":(\d+),/.exec(line);
  return m ? Number(m[1]) : undefined;
};

const splitLines = (text: string): string[] => {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
};

const seqRange = (seqs: ReadonlyArray<number | undefined>): string => {
  const known = seqs.filter((s): s is number => s !== undefined);
  if (!known.length) return '';
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  return lo === hi ? ` (seq ${lo})` : ` (seq ${lo}–${hi})`;
};

/** Walks the chain commit by commit, oldest first. */
class ChainChecker {
  seq: number;
  hash: string;
  lastFile: string | undefined;
  events = 0;
  readonly problems: AuditProblem[] = [];
  private readonly files = new Map<string, FileState>();
  /** Where each seq was written, to name the original of a duplicate. */
  private readonly seen = new Map<number, string>();
  private readonly max: number;
  private readonly baseTree: TreeView | undefined;

  constructor(start: { seq: number; hash: string; file?: string | undefined }, max: number, baseTree: TreeView | undefined) {
    this.seq = start.seq;
    this.hash = start.hash;
    this.lastFile = start.file;
    this.max = max;
    this.baseTree = baseTree;
  }

  problem(p: AuditProblem): void {
    this.problems.push(p);
    if (this.problems.length >= this.max) throw new TooManyProblems();
  }

  private async previous(path: string): Promise<FileState> {
    let state = this.files.get(path);
    if (!state) {
      const raw = this.baseTree ? await this.baseTree.readFile(path) : undefined;
      const bytes = raw ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) : Buffer.alloc(0);
      state = { bytes, lines: countLines(bytes) };
    }
    return state;
  }

  async check(commit: BranchCommit, signers: AllowedSigners, changed: readonly string[], view: TreeView): Promise<void> {
    const at = { oid: commit.oid, subject: subjectOf(commit) };
    this.checkSignature(commit, signers, at);
    if (commit.parents.length > 1) {
      this.problem({ code: 'merge-commit', commit: at, message: `is a merge of ${commit.parents.length} parents: the audit branch only ever grows by single commits, so someone merged into it outside clawops` });
    }
    const appended: Array<{ event: AuditEvent; file: string; line: number }> = [];
    let touchedEvents = false;
    for (const path of changed) {
      if (!path.startsWith('events/')) continue;
      touchedEvents = true;
      if (!EVENT_FILE_PATTERN.test(path)) {
        this.problem({ code: 'unexpected-file', commit: at, file: path, message: 'is not an events file (events/YYYY/MM/DD.jsonl): something other than clawops wrote it' });
        continue;
      }
      const raw = await view.readFile(path);
      const before = await this.previous(path);
      if (!raw) {
        const lines = splitLines(before.bytes.toString('utf8'));
        this.problem({ code: 'file-deleted', commit: at, file: path, line: 1, message: `the file was deleted, removing ${lines.length} event(s)${seqRange(lines.map(seqIn))}: audit events are never deleted` });
        this.files.delete(path);
        continue;
      }
      const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      this.files.set(path, { bytes, lines: countLines(bytes) });
      const old = before.bytes;
      if (bytes.length >= old.length && bytes.compare(old, 0, old.length, 0, old.length) === 0) {
        this.collect(bytes.subarray(old.length).toString('utf8'), before.lines, path, at, appended);
      } else {
        this.diagnoseRewrite(old.toString('utf8'), bytes.toString('utf8'), path, at, appended);
      }
    }
    appended.sort((a, b) => a.event.seq - b.event.seq);
    for (const a of appended) this.chain(a, at);
    if (changed.includes(AUDIT_HEAD_FILE)) await this.checkHead(view, at);
    else if (touchedEvents && appended.length) {
      this.problem({ code: 'head-not-updated', commit: at, file: AUDIT_HEAD_FILE, message: `events were appended but ${AUDIT_HEAD_FILE} still names an older event (clawops writes both in one commit): the commit was not made by clawops` });
    }
  }

  private checkSignature(commit: BranchCommit, signers: AllowedSigners, at: AuditProblem['commit']): void {
    const time = new Date(commit.committer.timestamp * 1000);
    const s = verifyCommitSignature(commit.raw, signers, time);
    const file = signers.file;
    switch (s.status) {
      case 'good':
        return;
      case 'unsigned':
        return this.problem({ code: 'unsigned', commit: at, message: 'is not signed: every audit commit is signed by clawops, so this one was written by something else' });
      case 'bad':
        return this.problem({ code: 'bad-signature', commit: at, message: `has a signature that does not verify (${s.reason}): the commit was changed after it was signed` });
      case 'unknown-key':
        return this.problem({ code: 'unknown-key', commit: at, message: `is signed by key ${s.fingerprint}, which is not in ${file}: an unknown writer (or a key to add to ${file})` });
      case 'key-not-valid-at-time':
        return this.problem({ code: 'key-not-valid', commit: at, message: `is signed by ${s.principal} (${s.fingerprint}) at ${time.toISOString().replace('.000Z', 'Z')}, outside that key's validity in ${file}` });
    }
  }

  /** Parses appended text (after `firstLine` existing lines) into events. */
  private collect(text: string, firstLine: number, file: string, at: AuditProblem['commit'], out: Array<{ event: AuditEvent; file: string; line: number }>): void {
    if (!text) return;
    const lines = text.split('\n');
    const complete = lines.pop() === '';
    let lastSeq: number | undefined;
    lines.forEach((line, i) => this.parseInto(line, firstLine + i + 1, file, at, out, (s) => {
      if (lastSeq !== undefined && s <= lastSeq) {
        this.problem({ code: 'out-of-order', commit: at, file, line: firstLine + i + 1, message: `seq ${s} comes after seq ${lastSeq} in the file: events within a file are written in seq order, so these were reordered` });
      }
      lastSeq = s;
    }));
    if (!complete) {
      const n = firstLine + lines.length + 1;
      this.problem({ code: 'truncated', commit: at, file, line: n, message: `the last line has no newline (${JSON.stringify(text.slice(text.lastIndexOf('\n') + 1).slice(0, 40))}…): the file was truncated mid-event` });
    }
  }

  private parseInto(line: string, n: number, file: string, at: AuditProblem['commit'], out: Array<{ event: AuditEvent; file: string; line: number }>, order: (seq: number) => void): void {
    const parsed = parseEventLine(line);
    if (!parsed.ok) {
      this.problem({ code: parsed.kind === 'hash' ? 'hash-mismatch' : 'invalid-event', commit: at, file, line: n, message: parsed.problem });
      return;
    }
    order(parsed.event.seq);
    if (eventFile(parsed.event.time) !== file) {
      this.problem({ code: 'wrong-file', commit: at, file, line: n, message: `seq ${parsed.event.seq} has time ${parsed.event.time}, so it belongs in ${eventFile(parsed.event.time)}: it was moved` });
    }
    out.push({ event: parsed.event, file, line: n });
  }

  /** The new content does not start with the old: say which line changed and how. */
  private diagnoseRewrite(oldText: string, newText: string, file: string, at: AuditProblem['commit'], out: Array<{ event: AuditEvent; file: string; line: number }>): void {
    const oldLines = splitLines(oldText);
    const newLines = splitLines(newText);
    if (oldText.startsWith(newText)) {
      // Only shorter: cut at a line boundary (lines removed) or inside a line.
      if (newText === '' || newText.endsWith('\n')) {
        const gone = oldLines.slice(newLines.length);
        this.problem({ code: 'truncated', commit: at, file, line: newLines.length + 1, message: `the file was truncated: ${gone.length} event(s)${seqRange(gone.map(seqIn))} from line ${newLines.length + 1} on are gone` });
      } else {
        const n = newLines.length;
        this.problem({ code: 'truncated', commit: at, file, line: n, message: `the file was truncated in the middle of line ${n}${seqRange([seqIn(oldLines[n - 1])])}` });
      }
      return;
    }
    let i = 0;
    while (i < oldLines.length && i < newLines.length && oldLines[i] === newLines[i]) i++;
    const was = oldLines[i];
    const seq = seqIn(was);
    const label = seq !== undefined ? `seq ${seq}` : 'an event';
    const movedTo = was === undefined ? -1 : newLines.indexOf(was, i + 1);
    if (was === undefined) {
      this.problem({ code: 'edited', commit: at, file, line: i + 1, message: 'the line was changed after it was written' });
    } else if (movedTo !== -1) {
      const now = seqIn(newLines[i]);
      this.problem({ code: 'reordered', commit: at, file, line: i + 1, message: `line ${i + 1} now holds ${now !== undefined ? `seq ${now}` : 'another line'} and ${label} moved to line ${movedTo + 1}: events were reordered` });
    } else if (newLines[i] === oldLines[i + 1] || (i >= newLines.length && newLines.length < oldLines.length)) {
      this.problem({ code: 'deleted', commit: at, file, line: i + 1, message: `${label} was deleted from line ${i + 1}${newLines[i] !== undefined ? ' (the lines after it moved up)' : ''}` });
    } else if (newLines[i]?.length !== undefined && was.startsWith(newLines[i]!) && i === newLines.length - 1 && !newText.endsWith('\n')) {
      this.problem({ code: 'truncated', commit: at, file, line: i + 1, message: `the file was truncated in the middle of line ${i + 1} (${label})` });
    } else {
      this.problem({ code: 'edited', commit: at, file, line: i + 1, message: `${label} was edited after it was written (the line differs from the one committed earlier)` });
    }
    // Lines past the old end are still new events: check them, so one tamper does not hide another.
    if (newLines.length > oldLines.length) {
      const extra = newLines.slice(oldLines.length);
      extra.forEach((line, k) => this.parseInto(line, oldLines.length + k + 1, file, at, out, () => undefined));
    }
  }

  private chain(a: { event: AuditEvent; file: string; line: number }, at: AuditProblem['commit']): void {
    const { event: e, file, line } = a;
    this.events++;
    const where = `${file}:${line}`;
    if (e.seq <= this.seq) {
      const first = this.seen.get(e.seq);
      this.problem({ code: 'seq-duplicate', commit: at, file, line, message: `seq ${e.seq} was already used${first ? ` at ${first}` : ''} (the branch was at seq ${this.seq}): a duplicated or replayed event` });
      return;
    }
    if (e.seq !== this.seq + 1) {
      this.problem({ code: 'seq-gap', commit: at, file, line, message: `seq jumps from ${this.seq} to ${e.seq}: event(s) ${this.seq + 1}${e.seq - 1 > this.seq + 1 ? `–${e.seq - 1}` : ''} are missing` });
    } else if (e.prev !== this.hash) {
      this.problem({ code: 'chain-broken', commit: at, file, line, message: `seq ${e.seq} has prev ${e.prev.slice(0, 12)}…, but the hash of seq ${this.seq} is ${this.hash.slice(0, 12)}…: the chain is broken (a forged or re-inserted event)` });
    }
    this.seen.set(e.seq, where);
    this.seq = e.seq;
    this.hash = e.hash;
    this.lastFile = file;
  }

  private async checkHead(view: TreeView, at: AuditProblem['commit']): Promise<void> {
    const raw = await view.readFile(AUDIT_HEAD_FILE);
    let head: Partial<AuditHead> | undefined;
    try {
      head = raw ? (JSON.parse(Buffer.from(raw).toString('utf8')) as Partial<AuditHead>) : undefined;
    } catch {
      head = undefined;
    }
    const expected = this.seq === 0 ? { seq: 0, hash: GENESIS_HASH } : { seq: this.seq, hash: this.hash, file: this.lastFile };
    if (!head || head.seq !== expected.seq || (expected.seq > 0 && (head.hash !== expected.hash || head.file !== expected.file))) {
      this.problem({
        code: 'head-mismatch',
        commit: at,
        file: AUDIT_HEAD_FILE,
        line: 1,
        message: `${raw ? `says seq ${head?.seq ?? '?'}` : 'was deleted'}, but the last event is seq ${expected.seq}${expected.file ? ` in ${expected.file}` : ''}: the next writer would number its events wrongly`,
      });
    }
  }
}

/** Where the tip stands relative to a commit that must be in its history. */
async function ancestry(branch: StateBranch, commits: readonly BranchCommit[], must: string): Promise<'contained' | 'replayed' | 'rewritten'> {
  if (commits.some((c) => c.oid === must)) return 'contained';
  const tip = commits[0]?.oid;
  const known = await branch.readCommit(must).then(
    () => true,
    () => false,
  );
  if (known && tip) for await (const c of branch.log({ from: must })) if (c.oid === tip) return 'replayed';
  return 'rewritten';
}

async function headSeqAt(branch: StateBranch, oid: string | undefined): Promise<number | undefined> {
  if (!oid) return 0;
  const raw = await (await branch.at(oid)).readFile(AUDIT_HEAD_FILE).catch(() => undefined);
  if (!raw) return 0;
  try {
    return (JSON.parse(Buffer.from(raw).toString('utf8')) as AuditHead).seq;
  } catch {
    return undefined;
  }
}

/** The first commit of the new history that is not in the old one (where a rewrite starts). */
async function forkPoint(branch: StateBranch, newest: readonly BranchCommit[], oldTip: string): Promise<BranchCommit | undefined> {
  const old = new Set<string>();
  const known = await branch.readCommit(oldTip).then(
    () => true,
    () => false,
  );
  if (!known) return undefined;
  for await (const c of branch.log({ from: oldTip })) old.add(c.oid);
  let first: BranchCommit | undefined;
  for (const c of newest) {
    if (old.has(c.oid)) break;
    first = c;
  }
  return first;
}

export async function verifyAuditBranch(branch: StateBranch, opts: VerifyOptions): Promise<VerifyResult> {
  const tip = await branch.head();
  const max = opts.maxProblems ?? 50;
  const problems: AuditProblem[] = [];
  // Newest first; memory is one small object per commit.
  const commits: BranchCommit[] = [];
  for await (const c of branch.log()) commits.push(c);
  const root = commits[commits.length - 1];
  if (root && root.parents.length) {
    problems.push({ code: 'shallow', commit: { oid: root.oid, subject: subjectOf(root) }, message: `the local copy of ${branch.name} starts here (a shallow fetch): fetch the full history to verify it` });
    return { ok: false, branch: branch.name, head: tip, from: undefined, commitsChecked: 0, eventsChecked: 0, last: { seq: 0, hash: GENESIS_HASH }, problems };
  }

  const verified = opts.verified;
  let incrementalFrom: VerifiedHead | undefined;
  for (const [must, what] of [
    [verified?.oid, 'verified'],
    [opts.pinned, 'pinned'],
  ] as const) {
    if (!must) continue;
    const where = await ancestry(branch, commits, must);
    if (where === 'contained') {
      if (what === 'verified') incrementalFrom = verified;
      continue;
    }
    const atTip = tip ? { oid: tip, subject: subjectOf(commits[0]!) } : undefined;
    const whose = what === 'verified' ? `the last verified head ${short(must)}${verified ? ` (seq ${verified.seq})` : ''}` : `the head pinned in clawops.yaml (audit.verifiedHead ${short(must)})`;
    if (where === 'replayed') {
      const tipSeq = await headSeqAt(branch, tip);
      problems.push({
        code: what === 'verified' ? 'replayed' : 'pin-missing',
        ...(atTip ? { commit: atTip } : {}),
        message: `the branch tip is an older commit${tipSeq !== undefined ? ` (seq ${tipSeq})` : ''} than ${whose}: an old state of the branch was replayed (pushed back over newer history)`,
      });
    } else {
      const fork = await forkPoint(branch, commits, must);
      const tipSeq = await headSeqAt(branch, tip);
      problems.push({
        code: what === 'verified' ? 'rewritten' : 'pin-missing',
        ...(fork ? { commit: { oid: fork.oid, subject: subjectOf(fork) } } : atTip ? { commit: atTip } : {}),
        message: `${whose} is no longer in the branch's history${fork ? ', which was rewritten from this commit on' : tip ? ` (the tip now has seq ${tipSeq ?? '?'})` : ' (the branch is gone)'}: history was rewritten (a force push)`,
      });
    }
  }

  const start = !opts.full && incrementalFrom ? incrementalFrom : undefined;
  const baseTree = start ? await branch.at(start.oid) : undefined;
  let startFile: string | undefined;
  if (start && baseTree) {
    // The local record must agree with the branch at that commit, or it is not a safe start.
    const raw = await baseTree.readFile(AUDIT_HEAD_FILE);
    const head = raw ? (JSON.parse(Buffer.from(raw).toString('utf8')) as AuditHead) : { seq: 0, hash: GENESIS_HASH };
    if (head.seq !== start.seq || (start.seq > 0 && head.hash !== start.hash)) {
      return verifyAuditBranch(branch, { ...opts, verified: undefined, full: true }).then((r) => ({ ...r, problems: [...problems, ...r.problems] }));
    }
    startFile = head.file;
  }
  const checker = new ChainChecker(start ? { seq: start.seq, hash: start.hash, file: startFile } : { seq: 0, hash: GENESIS_HASH }, Math.max(1, max - problems.length), baseTree);
  const todo = start ? commits.slice(0, commits.findIndex((c) => c.oid === start.oid)) : commits;
  let checked = 0;
  try {
    for (let i = todo.length - 1; i >= 0; i--) {
      const c = todo[i]!;
      await checker.check(c, opts.signers, await branch.changedPaths(c.oid), await branch.at(c.oid));
      checked++;
    }
  } catch (e) {
    if (!(e instanceof TooManyProblems)) throw e;
  }
  problems.push(...checker.problems);
  return {
    ok: problems.length === 0,
    branch: branch.name,
    head: tip,
    from: start?.oid,
    commitsChecked: checked,
    eventsChecked: checker.events,
    last: { seq: checker.seq, hash: checker.hash },
    problems,
  };
}

/** Where this machine keeps the last verified head of each audit branch of a repo. */
export const verifiedHeadFile = (repoRoot: string): string => join(repoRoot, '.clawops', 'audit-verified-head');

interface VerifiedHeadRecord extends VerifiedHead {
  readonly verifiedAt: string;
}

async function readRecords(file: string): Promise<Record<string, VerifiedHeadRecord>> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, VerifiedHeadRecord>;
  } catch {
    // fall through: a damaged record is reported, never trusted
  }
  throw new VerifiedHeadError(`${file} is not a verified-head record; delete it and run \`clawops audit verify --full\``, { file });
}

export async function readVerifiedHead(repoRoot: string, branch: string): Promise<VerifiedHead | undefined> {
  const file = verifiedHeadFile(repoRoot);
  const r = (await readRecords(file))[branch];
  if (!r) return undefined;
  if (typeof r.oid !== 'string' || !/^[0-9a-f]{40}$/.test(r.oid) || !Number.isInteger(r.seq) || typeof r.hash !== 'string') {
    throw new VerifiedHeadError(`${file}: the record for ${branch} is damaged; delete it and run \`clawops audit verify --full\``, { file });
  }
  return { oid: r.oid, seq: r.seq, hash: r.hash };
}

export async function saveVerifiedHead(repoRoot: string, branch: string, head: VerifiedHead, now: Date): Promise<void> {
  const file = verifiedHeadFile(repoRoot);
  const records = await readRecords(file).catch(() => ({}) as Record<string, VerifiedHeadRecord>);
  records[branch] = { oid: head.oid, seq: head.seq, hash: head.hash, verifiedAt: now.toISOString() };
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(records, null, 2) + '\n');
  await rename(tmp, file);
}

export class VerifiedHeadError extends ClawopsError<{ file: string }> {
  readonly code = 'AUDIT_VERIFIED_HEAD';
}
