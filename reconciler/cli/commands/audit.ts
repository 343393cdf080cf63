/**
 * `clawops audit verify|search|show|trace`: check and read the signed audit branch (DESIGN §6).
 * All four only read the branch; verify also remembers, on this machine, the head it verified.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { formatProblem, readVerifiedHead, saveVerifiedHead, verifyAuditBranch, type VerifyResult } from '../../audit/verify.ts';
import { parseRisks, parseTimeBound, renderEventDetail, renderEventLines, searchEvents, showEvent, traceEvents } from '../../audit/search.ts';
import type { AuditEvent } from '../../audit/event.ts';
import { UsageError } from '../../errors.ts';
import { openRepoStateBranch } from '../../git/open-repo-branch.ts';
import { stateLocation } from '../../state/open-state.ts';
import { parseAllowedSigners } from '../../git/sshsig.ts';
import type { StateBranch } from '../../git/state-branch.ts';
import { loadRepoConfig } from '../../load/load-repo.ts';
import type { RepositoryConfig } from '../../model/repository.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import type { CommandContext } from '../program.ts';

export const AUDIT_JSON_FORMAT_VERSION = 1;

interface RepoOption {
  readonly repo: string;
}

/**
 * The repo's state branch, for reading only: no signing key is loaded (so no age identity is
 * needed), and the local copy is brought up to the remote's tip (`full`: the whole history).
 */
async function openForReading(repo: string, ports: Ports, full: boolean): Promise<{ root: string; config: RepositoryConfig; branch: StateBranch }> {
  const { root, config } = await loadRepoConfig(repo);
  const audit = { ...config.spec.audit };
  delete audit.signingKey;
  const readOnlyConfig: RepositoryConfig = { ...config, spec: { ...config.spec, audit } };
  const env = { ...ports.env, CLAWOPS_SIGNING_KEY: undefined, CLAWOPS_SIGNING_KEY_FILE: undefined };
  const { localGitdir } = await stateLocation(root, ports.env.CLAWOPS_STATE_DIR);
  const { branch } = await openRepoStateBranch(root, readOnlyConfig, env, { redactor: ports.redactor, identities: async () => [], now: ports.now, ...(localGitdir ? { localGitdir } : {}) });
  await branch.fetch({ full });
  return { root, config, branch };
}

export interface AuditVerifyOptions extends RepoOption {
  readonly allowedSigners?: string | undefined;
  readonly full: boolean;
  readonly json: boolean;
}

export async function runAuditVerify(opts: AuditVerifyOptions, ports: Ports): Promise<ExitCode> {
  const { root, config } = await loadRepoConfig(opts.repo);
  const given = opts.allowedSigners ? resolve(ports.cwd, opts.allowedSigners) : undefined;
  const configured = config.spec.audit?.allowedSigners;
  const file = given ?? (configured ? resolve(root, configured) : undefined);
  if (!file) {
    throw new UsageError('audit verify needs the allowed signers: pass --allowed-signers FILE, or set spec.audit.allowedSigners in clawops.yaml (a file in the format of git\'s gpg.ssh.allowedSignersFile)', {});
  }
  const shown = isAbsolute(file) && !given ? relative(root, file) : (opts.allowedSigners ?? file);
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the allowed signers ${shown}: ${e.code === 'ENOENT' ? 'no such file' : e.message}${given ? '' : ' (spec.audit.allowedSigners in clawops.yaml)'}`, {});
  });
  const signers = parseAllowedSigners(text, shown);
  const { branch } = await openForReading(opts.repo, ports, true);
  const verified = await readVerifiedHead(root, branch.name);
  const result = await verifyAuditBranch(branch, { signers, verified, pinned: config.spec.audit?.verifiedHead, full: opts.full });
  if (result.ok && result.head) await saveVerifiedHead(root, branch.name, { oid: result.head, seq: result.last.seq, hash: result.last.hash }, ports.now());
  if (opts.json) ports.out.write(JSON.stringify({ formatVersion: AUDIT_JSON_FORMAT_VERSION, ...result }, null, 2) + '\n');
  else ports.err.write(renderVerify(result));
  return result.ok ? 0 : 1;
}

export function renderVerify(r: VerifyResult): string {
  const scope = r.from ? `${r.commitsChecked} new commit(s) since the verified head ${r.from.slice(0, 7)}` : `${r.commitsChecked} commit(s)`;
  if (r.ok) {
    if (!r.head) return `audit verify: ${r.branch} has no commits yet; nothing to verify\n`;
    return `audit verify: ${r.branch} is intact at ${r.head.slice(0, 7)} (seq ${r.last.seq}): ${scope}, ${r.eventsChecked} event(s) checked\n`;
  }
  return [`audit verify: ${r.branch} FAILED, ${r.problems.length} problem(s):`, ...r.problems.map((p) => `  ${formatProblem(p)}`), ''].join('\n');
}

export interface AuditSearchOptions extends RepoOption {
  readonly agent?: string;
  readonly gateway?: string;
  readonly type?: string;
  readonly risk?: string;
  readonly trace?: string;
  readonly text?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit?: number;
  readonly json: boolean;
}

function writeEvents(events: readonly AuditEvent[], unreadable: number, json: boolean, ports: Ports, empty: string): void {
  if (json) ports.out.write(JSON.stringify({ formatVersion: AUDIT_JSON_FORMAT_VERSION, events, unreadable }, null, 2) + '\n');
  else if (events.length) ports.out.write(renderEventLines(events));
  else ports.err.write(`${empty}\n`);
  if (unreadable && !json) ports.err.write(`${unreadable} line(s) of the audit branch are not valid events; run \`clawops audit verify\`\n`);
}

export async function runAuditSearch(opts: AuditSearchOptions, ports: Ports): Promise<ExitCode> {
  const now = ports.now();
  const query = {
    agent: opts.agent,
    gateway: opts.gateway,
    type: opts.type,
    risk: opts.risk === undefined ? undefined : parseRisks(opts.risk),
    trace: opts.trace,
    text: opts.text,
    since: opts.since === undefined ? undefined : parseTimeBound(opts.since, now, { flag: '--since' }),
    until: opts.until === undefined ? undefined : parseTimeBound(opts.until, now, { flag: '--until', endOfDay: true }),
    limit: opts.limit,
  };
  const { branch } = await openForReading(opts.repo, ports, false);
  const { events, unreadable } = await searchEvents(await branch.at(), query);
  writeEvents(events, unreadable, opts.json, ports, 'no events match');
  return 0;
}

export async function runAuditShow(seqText: string, opts: RepoOption & { json: boolean }, ports: Ports): Promise<ExitCode> {
  const seq = Number(seqText);
  if (!/^\d+$/.test(seqText) || seq < 1) throw new UsageError(`"${seqText}" is not an event number: audit show takes a seq (1, 2, 3, …) as \`audit search\` prints it`, {});
  const { branch } = await openForReading(opts.repo, ports, false);
  const { event } = await showEvent(await branch.at(), seq);
  if (!event) throw new UsageError(`no event with seq ${seq} on ${branch.name}; \`clawops audit search\` lists them`, {});
  ports.out.write(opts.json ? JSON.stringify({ formatVersion: AUDIT_JSON_FORMAT_VERSION, event }, null, 2) + '\n' : renderEventDetail(event));
  return 0;
}

export async function runAuditTrace(traceId: string, opts: RepoOption & { json: boolean }, ports: Ports): Promise<ExitCode> {
  const { branch } = await openForReading(opts.repo, ports, false);
  const { events, unreadable } = await traceEvents(await branch.at(), traceId);
  if (!events.length && !opts.json) throw new UsageError(`no events with trace id "${traceId}" on ${branch.name}`, {});
  writeEvents(events, unreadable, opts.json, ports, '');
  return 0;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of events, at least 1.');
  return n;
}

export function registerAudit(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  const audit = program.command('audit').description('verify and read the signed audit branch (events of every apply, drift, rollback, approval)');

  audit
    .command('verify')
    .description('check signatures, the append-only event files, seq and the hash chain, and that history only grew')
    .addOption(repoOption())
    .addOption(jsonOption())
    .option('--allowed-signers <file>', 'allowed signers, in git\'s gpg.ssh.allowedSignersFile format (default: spec.audit.allowedSigners)')
    .option('--full', 're-check every commit, not only those after the last verified head', false)
    .addHelpText(
      'after',
      `
Checks every commit after the head this machine last verified (.clawops/audit-verified-head;
--full checks all of them): signed by an allowed key valid at the commit's time; events files
only grow by whole appended lines; every event well-formed, its hash right, seq contiguous and
prev the hash of the event before. The last verified head (and spec.audit.verifiedHead in
clawops.yaml, when set) must still be in the history: a force push or an old state pushed back
fails. On success the new head is remembered.

Exit codes:
  0  the branch is intact
  1  verification failed (each problem names the commit, file and line), or bad input`,
    )
    .action(async (o: AuditVerifyOptions) => {
      ctx.exitCode = await runAuditVerify(o, ctx.ports);
    });

  audit
    .command('search')
    .description('list the events that match every filter given, in seq order')
    .addOption(repoOption())
    .addOption(jsonOption())
    .option('--agent <id>', 'events about this agent id')
    .option('--gateway <name>', 'events on this gateway (or runtime host)')
    .option('--type <glob>', 'event types, e.g. change.applied or "change.*"')
    .option('--risk <levels>', 'low, medium, high, critical; a list (high,critical) or a level and above (high+)')
    .option('--trace <id>', 'events of one run')
    .option('--text <text>', 'events whose content contains this (case-insensitive)')
    .option('--since <time>', 'from this date, date-time or duration ago (2026-11-21, 2026-11-21T12:00:00Z, 24h, 7d)')
    .option('--until <time>', 'up to this date (inclusive), date-time or duration ago')
    .option('--limit <n>', 'only the last N matches', parseLimit)
    .action(async (o: AuditSearchOptions) => {
      ctx.exitCode = await runAuditSearch(o, ctx.ports);
    });

  audit
    .command('show')
    .description('one event, every field')
    .argument('<seq>', 'the event number')
    .addOption(repoOption())
    .addOption(jsonOption())
    .action(async (seq: string, o: RepoOption & { json: boolean }) => {
      ctx.exitCode = await runAuditShow(seq, o, ctx.ports);
    });

  audit
    .command('trace')
    .description('every event of one run (one trace id), in order')
    .argument('<trace-id>', 'as `audit search` or `audit show` prints it')
    .addOption(repoOption())
    .addOption(jsonOption())
    .action(async (traceId: string, o: RepoOption & { json: boolean }) => {
      ctx.exitCode = await runAuditTrace(traceId, o, ctx.ports);
    });
}
