/**
 * How clawops reaches a git remote: smart HTTP(S) only (isomorphic-git speaks nothing else), with
 * a token from the environment sent as basic auth `x-access-token:<token>` (what GitHub, GitLab
 * and Gitea accept). Shared by the state branch (open-repo-branch.ts) and the fleet checkout sync
 * (sync-checkout.ts), so both read the same variables and redact the same way.
 */
import type { Redactor } from '../redact/redactor.ts';

/** Checked in order; the first one set is the token. */
export const GIT_TOKEN_ENVS = ['CLAWOPS_GIT_TOKEN', 'GITHUB_TOKEN'] as const;

export const isHttpUrl = (url: string): boolean => /^https?:\/\//i.test(url);

/** scp-like `git@host:path` or an `ssh://` URL. */
export const isSshUrl = (url: string): boolean => /^(ssh|git\+ssh|ssh\+git):\/\//i.test(url) || /^[^/:@\s]+@[^/:\s]+:/.test(url);

/** The URL with any `user:password@` removed: the only form of it that is ever printed. */
export const withoutCredentials = (url: string): string => url.replace(/\/\/[^/@\s]*@/, '//');

/**
 * The token for `url` from the first of GIT_TOKEN_ENVS that is set. It, and a password written
 * into the URL itself, are registered with the redactor, so no output path can show them.
 */
export function gitToken(url: string | undefined, env: Readonly<Record<string, string | undefined>>, redactor: Redactor): string | undefined {
  const inUrl = url ? /^[a-z+]+:\/\/[^/@\s]*:([^/@\s]+)@/i.exec(url)?.[1] : undefined;
  if (inUrl) redactor.add(decodeURIComponent(inUrl), 'git-token');
  const token = GIT_TOKEN_ENVS.map((name) => env[name]?.trim()).find(Boolean);
  if (token) redactor.add(token, 'git-token');
  return token;
}

export const tokenHeaders = (token: string | undefined): Record<string, string> =>
  token ? { Authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}` } : {};

/** The hint after a remote answered 401/403. */
export const CREDENTIALS_HINT = `set ${GIT_TOKEN_ENVS[0]} (or ${GIT_TOKEN_ENVS[1]}) to a token that may read this repository`;
