/**
 * The accounts side of the fake GitHub's JSON: users, teams, the GitHub App and repositories,
 * each with every property its schema requires (see github-shapes.ts for the rest). Avatar URLs,
 * permissions and plan values are made up; URL templates are written the way api.github.com
 * writes them.
 */
import { nodeId, type Account, type FakeState, type RepoState, type TeamState } from './github-state.ts';

export type JsonObject = { [key: string]: unknown };

/** What the fake knows about the GitHub App behind the bot. */
export interface AppInfo {
  readonly id: number;
  readonly slug: string;
  readonly name: string;
  readonly owner: string;
  readonly createdAt: string;
}

export const APP_PERMISSIONS = { checks: 'write', contents: 'write', issues: 'write', metadata: 'read', members: 'read', pull_requests: 'write' } as const;
const APP_EVENTS = ['check_run', 'pull_request', 'pull_request_review', 'push'] as const;

export const enc = encodeURIComponent;

export class AccountShapes {
  protected readonly state: FakeState;
  /** Base of API URLs (the fake's url). */
  readonly api: string;
  /** Base of web (html) URLs. */
  readonly web: string;
  /** Base of git smart-HTTP URLs (clone_url). */
  readonly gitBase: string;
  readonly app: AppInfo;

  constructor(state: FakeState, api: string, web: string, gitBase: string, app: AppInfo) {
    this.state = state;
    this.api = api;
    this.web = web;
    this.gitBase = gitBase;
    this.app = app;
  }

  protected acct(login: string): Account {
    return this.state.account(login);
  }

  user(login: string): JsonObject {
    const a = this.acct(login);
    const url = `${this.api}/users/${enc(a.login)}`;
    return {
      login: a.login,
      id: a.id,
      node_id: nodeId(a.type === 'Organization' ? 'O' : a.type === 'Bot' ? 'BOT' : 'U', a.id),
      avatar_url: `${this.web}/avatars/u/${a.id}?v=4`,
      gravatar_id: '',
      url,
      html_url: a.type === 'Bot' ? `${this.web}/apps/${enc(a.login.replace(/\[bot\]$/, ''))}` : `${this.web}/${enc(a.login)}`,
      followers_url: `${url}/followers`,
      following_url: `${url}/following{/other_user}`,
      gists_url: `${url}/gists{/gist_id}`,
      starred_url: `${url}/starred{/owner}{/repo}`,
      subscriptions_url: `${url}/subscriptions`,
      organizations_url: `${url}/orgs`,
      repos_url: `${url}/repos`,
      events_url: `${url}/events{/privacy}`,
      received_events_url: `${url}/received_events`,
      type: a.type,
      user_view_type: 'public',
      site_admin: false,
    };
  }

  /** GET /user for the account itself (`private-user`). */
  privateUser(login: string): JsonObject {
    const a = this.acct(login);
    return {
      ...this.user(login),
      name: a.name,
      company: null,
      blog: '',
      location: null,
      email: a.email,
      hireable: null,
      bio: null,
      twitter_username: null,
      public_repos: 0,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: a.createdAt,
      updated_at: a.createdAt,
      private_gists: 0,
      total_private_repos: 0,
      owned_private_repos: 0,
      disk_usage: 0,
      collaborators: 0,
      two_factor_authentication: true,
      plan: { name: 'free', space: 976562499, collaborators: 0, private_repos: 10000 },
    };
  }

  teamMember(login: string): JsonObject {
    return { ...this.user(login), role: 'member', inherited: false };
  }

  /** `repository` (inside pull requests); `full` adds what GET /repos/{owner}/{repo} returns. */
  repository(r: RepoState, full = false): JsonObject {
    const url = `${this.api}/repos/${r.owner}/${r.name}`;
    const shape: JsonObject = {
      id: r.id,
      node_id: nodeId('R', r.id),
      name: r.name,
      full_name: r.fullName,
      owner: this.user(r.owner),
      private: true,
      html_url: `${this.web}/${r.fullName}`,
      description: null,
      fork: r.parent !== undefined,
      url,
      archive_url: `${url}/{archive_format}{/ref}`,
      assignees_url: `${url}/assignees{/user}`,
      blobs_url: `${url}/git/blobs{/sha}`,
      branches_url: `${url}/branches{/branch}`,
      collaborators_url: `${url}/collaborators{/collaborator}`,
      comments_url: `${url}/comments{/number}`,
      commits_url: `${url}/commits{/sha}`,
      compare_url: `${url}/compare/{base}...{head}`,
      contents_url: `${url}/contents/{+path}`,
      contributors_url: `${url}/contributors`,
      deployments_url: `${url}/deployments`,
      downloads_url: `${url}/downloads`,
      events_url: `${url}/events`,
      forks_url: `${url}/forks`,
      git_commits_url: `${url}/git/commits{/sha}`,
      git_refs_url: `${url}/git/refs{/sha}`,
      git_tags_url: `${url}/git/tags{/sha}`,
      git_url: `${this.gitBase.replace(/^https?:/, 'git:')}/${r.fullName}.git`,
      issue_comment_url: `${url}/issues/comments{/number}`,
      issue_events_url: `${url}/issues/events{/number}`,
      issues_url: `${url}/issues{/number}`,
      keys_url: `${url}/keys{/key_id}`,
      labels_url: `${url}/labels{/name}`,
      languages_url: `${url}/languages`,
      merges_url: `${url}/merges`,
      milestones_url: `${url}/milestones{/number}`,
      notifications_url: `${url}/notifications{?since,all,participating}`,
      pulls_url: `${url}/pulls{/number}`,
      releases_url: `${url}/releases{/id}`,
      ssh_url: `git@${new URL(this.gitBase).host}:${r.fullName}.git`,
      stargazers_url: `${url}/stargazers`,
      statuses_url: `${url}/statuses/{sha}`,
      subscribers_url: `${url}/subscribers`,
      subscription_url: `${url}/subscription`,
      tags_url: `${url}/tags`,
      teams_url: `${url}/teams`,
      trees_url: `${url}/git/trees{/sha}`,
      clone_url: `${this.gitBase}/${r.fullName}.git`,
      mirror_url: null,
      hooks_url: `${url}/hooks`,
      svn_url: `${this.web}/${r.fullName}`,
      homepage: null,
      language: null,
      forks_count: 0,
      forks: 0,
      stargazers_count: 0,
      watchers_count: 0,
      watchers: 0,
      size: 0,
      default_branch: r.defaultBranch,
      open_issues_count: this.state.pulls.filter((p) => p.repo === r && p.state === 'open').length,
      open_issues: this.state.pulls.filter((p) => p.repo === r && p.state === 'open').length,
      is_template: false,
      topics: [],
      has_issues: true,
      has_projects: false,
      has_wiki: false,
      has_pages: false,
      has_downloads: true,
      has_discussions: false,
      archived: false,
      disabled: false,
      visibility: 'private',
      pushed_at: r.createdAt,
      created_at: r.createdAt,
      updated_at: r.createdAt,
      permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
      allow_rebase_merge: true,
      allow_squash_merge: true,
      allow_merge_commit: true,
      allow_auto_merge: false,
      delete_branch_on_merge: false,
      allow_forking: true,
      web_commit_signoff_required: false,
      license: null,
    };
    if (!full) return shape;
    return {
      ...shape,
      network_count: 0,
      subscribers_count: 0,
      squash_merge_commit_title: 'COMMIT_OR_PR_TITLE',
      squash_merge_commit_message: 'COMMIT_MESSAGES',
      merge_commit_title: 'MERGE_MESSAGE',
      merge_commit_message: 'PR_TITLE',
      ...(this.state.findAccount(r.owner)?.type === 'Organization' ? { organization: this.user(r.owner) } : {}),
      ...(r.parent ? { parent: this.repository(r.parent), source: this.repository(r.parent) } : {}),
    };
  }

  /** `team` (requested_teams of pull-request-simple); `simple` for `team-simple` (pull-request). */
  team(t: TeamState, simple = false): JsonObject {
    const org = this.acct(t.org);
    const url = `${this.api}/organizations/${org.id}/team/${t.id}`;
    const shape: JsonObject = {
      id: t.id,
      node_id: nodeId('T', t.id),
      url,
      html_url: `${this.web}/orgs/${enc(t.org)}/teams/${enc(t.slug)}`,
      name: t.name,
      slug: t.slug,
      description: null,
      privacy: 'closed',
      notification_setting: 'notifications_enabled',
      permission: 'pull',
      members_url: `${url}/members{/member}`,
      repositories_url: `${url}/repos`,
      type: 'organization',
      organization_id: org.id,
    };
    return simple ? shape : { ...shape, parent: null };
  }

  private appClientId(): string {
    return `Iv23li${String(this.app.id).padStart(14, '0')}`;
  }

  integration(): JsonObject {
    const now = this.app.createdAt;
    return {
      id: this.app.id,
      slug: this.app.slug,
      node_id: nodeId('A', this.app.id),
      client_id: this.appClientId(),
      owner: this.user(this.app.owner),
      name: this.app.name,
      description: 'GitOps for OpenClaw fleets (fake)',
      external_url: `${this.web}/apps/${this.app.slug}`,
      html_url: `${this.web}/apps/${this.app.slug}`,
      created_at: now,
      updated_at: now,
      permissions: { ...APP_PERMISSIONS },
      events: [...APP_EVENTS],
    };
  }

  /** GET /app: the App describing itself, the one time GitHub adds `installations_count`. */
  authenticatedApp(installations: number): JsonObject {
    return { ...this.integration(), installations_count: installations };
  }

  /** `installation`: the App installed on `account`, on all of its repositories. */
  installation(id: number, account: string): JsonObject {
    const a = this.acct(account);
    return {
      id,
      account: this.user(a.login),
      repository_selection: 'all',
      access_tokens_url: `${this.api}/app/installations/${id}/access_tokens`,
      repositories_url: `${this.api}/installation/repositories`,
      html_url: a.type === 'Organization' ? `${this.web}/organizations/${enc(a.login)}/settings/installations/${id}` : `${this.web}/settings/installations/${id}`,
      app_id: this.app.id,
      client_id: this.appClientId(),
      app_slug: this.app.slug,
      target_id: a.id,
      target_type: a.type === 'Organization' ? 'Organization' : 'User',
      permissions: { ...APP_PERMISSIONS },
      events: [...APP_EVENTS],
      created_at: this.app.createdAt,
      updated_at: this.app.createdAt,
      single_file_name: null,
      has_multiple_single_files: false,
      single_file_paths: [],
      suspended_by: null,
      suspended_at: null,
    };
  }
}
