/**
 * The pull request that makes git agree with a rollback: on top of main, the rolled-back files as
 * they were at the rollback commit. One per rollback commit (branch `clawops/rollback/<short>`),
 * updated in place by a second rollback to the same commit. Without GitHub, the same change as
 * the `git` commands that make it.
 */
import type { BotPrSpec } from '../github/bot-pr.ts';
import type { RollbackScope } from './scope.ts';
import { inWorktreePaths } from './revert-files.ts';

export const ROLLBACK_BRANCH_PREFIX = 'clawops/rollback/';

const short = (sha: string) => sha.slice(0, 12);

export function revertPrSpec(scope: RollbackScope, opts: { base: string; prefix: string; by: string; reason?: string; appliedNow: boolean }): BotPrSpec {
  const paths = Object.keys(scope.files).sort();
  const targets = scope.targets.map((t) => `- **${t.gateway}**: ${t.agents.length ? t.agents.map((a) => `\`${a}\``).join(', ') : 'its agents'}`);
  const body = [
    `Rolls back ${scope.targets.length === 1 ? 'gateway' : 'gateways'} ${scope.targets.map((t) => `\`${t.gateway}\``).join(', ')} from \`${short(scope.from)}\` (main) to \`${short(scope.to)}\`, by restoring the files below as they were at \`${short(scope.to)}\`.`,
    '',
    ...targets,
    '',
    opts.appliedNow
      ? `The rollback was already applied to the gateways (break-glass by ${opts.by}${opts.reason ? `: "${opts.reason}"` : ''}); this pull request makes git agree.`
      : `Requested by ${opts.by}${opts.reason ? `: "${opts.reason}"` : ''}.`,
    '',
    `Until main changes these gateways' configuration, clawops keeps them pinned to \`${short(scope.to)}\` (it does not re-apply \`${short(scope.from)}\`). Merging this pull request (or any fix that changes their configuration) lifts the pin.`,
    '',
    '<details><summary>Files restored</summary>',
    '',
    ...paths.map((p) => `- \`${p}\`${scope.files[p] === null ? ' (deleted: it did not exist then)' : ''}`),
    '',
    '</details>',
  ].join('\n');
  return {
    branch: `${ROLLBACK_BRANCH_PREFIX}${short(scope.to)}`,
    base: opts.base,
    baseSha: scope.from,
    title: `Roll back ${scope.targets.map((t) => t.gateway).join(', ')} to ${short(scope.to)}`,
    body,
    files: inWorktreePaths(opts.prefix, scope.files),
    message: `Roll back ${scope.targets.map((t) => t.gateway).join(', ')} to ${short(scope.to)}\n\nRestores ${paths.length} file(s) as they were at ${scope.to} (main was ${scope.from}).\n`,
    meta: { rollback: { to: scope.to, from: scope.from, targets: scope.targets.map((t) => t.gateway) } },
  };
}

/** The shell commands that make the same change in a checkout of the fleet repo. */
export function revertCommands(scope: RollbackScope, repoDir: string): string[] {
  const q = (s: string) => (/^[\w./@:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const restore = Object.keys(scope.files).filter((p) => scope.files[p] !== null).sort();
  const remove = Object.keys(scope.files).filter((p) => scope.files[p] === null).sort();
  return [
    ...(restore.length ? [`git -C ${q(repoDir)} checkout ${scope.to} -- ${restore.map(q).join(' ')}`] : []),
    ...(remove.length ? [`git -C ${q(repoDir)} rm -q -- ${remove.map(q).join(' ')}`] : []),
    `git -C ${q(repoDir)} commit -m ${q(`Roll back ${scope.targets.map((t) => t.gateway).join(', ')} to ${short(scope.to)}`)}`,
  ];
}
