/**
 * Who is in which approver group (clawops.yaml `approvers`): named users, and members of a GitHub
 * team, read once per run. GitHub answers membership as of now, so the groups found here are
 * recorded with the evidence. Reading a team needs organization members read access, which the
 * Actions GITHUB_TOKEN does not have: the error says what to use instead.
 */
import type { RepositoryConfig } from '../model/repository.ts';
import type { GitHubClient } from './client.ts';
import { explainGitHubError } from './errors.ts';

type Approvers = NonNullable<RepositoryConfig['spec']['approvers']>;

export class ApproverDirectory {
  readonly #teams = new Map<string, Promise<ReadonlySet<string>>>();
  readonly gh: GitHubClient;
  readonly approvers: Approvers;

  constructor(gh: GitHubClient, approvers: Approvers) {
    this.gh = gh;
    this.approvers = approvers;
  }

  /** The approver groups `login` belongs to. */
  async groupsOf(login: string): Promise<string[]> {
    const lower = login.toLowerCase();
    const groups: string[] = [];
    for (const [name, g] of Object.entries(this.approvers)) {
      if (g.users?.some((u) => u.toLowerCase() === lower)) groups.push(name);
      else if (g.githubTeam && (await this.#members(g.githubTeam)).has(lower)) groups.push(name);
    }
    return groups;
  }

  /** `org/slug` of a group's team, for requesting reviews. */
  team(group: string): { org: string; slug: string } | undefined {
    const t = this.approvers[group]?.githubTeam;
    if (!t) return undefined;
    const [org, slug] = t.split('/') as [string, string];
    return { org, slug };
  }

  users(group: string): readonly string[] {
    return this.approvers[group]?.users ?? [];
  }

  #members(team: string): Promise<ReadonlySet<string>> {
    let members = this.#teams.get(team);
    if (!members) {
      const [org, slug] = team.split('/') as [string, string];
      members = this.gh.octokit
        .paginate(this.gh.octokit.rest.teams.listMembersInOrg, { org, team_slug: slug, per_page: 100 })
        .then((list) => new Set(list.map((m) => m.login.toLowerCase())))
        .catch((e: unknown) => {
          throw explainGitHubError(e, `reading the members of team ${team}`, this.gh);
        });
      this.#teams.set(team, members);
    }
    return members;
  }
}
