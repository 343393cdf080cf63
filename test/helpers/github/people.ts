/**
 * The people of a GitHub test: each login gets an Octokit acting as them on the fake (with a
 * known email, so their commits are attributed to them), and git runs as them.
 */
import { Octokit } from '@octokit/rest';
import { runGit } from '../git-http-server.ts';
import type { FakeGitHub } from './fake-github.ts';

/** `as(login)`: an Octokit for that person on `fake()` (made once per login). */
export function people(fake: () => FakeGitHub): (login: string) => Octokit {
  const users: Record<string, Octokit> = {};
  return (login) => (users[login] ??= new Octokit({ baseUrl: fake().url, auth: fake().tokenFor(login, { email: `${login}@example.com` }) }));
}

/** Native git in `cwd` as `who` (`who@example.com`); rejects with git's message. */
export async function gitAs(cwd: string, args: readonly string[], who = 'dev'): Promise<string> {
  const r = await runGit(['-c', `user.name=${who}`, '-c', `user.email=${who}@example.com`, ...args], { cwd });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}
