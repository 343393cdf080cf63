/**
 * What the fake GitHub remembers: accounts and tokens, repositories (each a real bare git
 * repository), pull requests, reviews, issue comments, check runs and teams. Plain data plus the
 * lookups every route needs; the routes hold the behaviour.
 */
import { randomBytes } from 'node:crypto';
import type { BareRepo } from './bare-repo.ts';

export type AccountType = 'User' | 'Bot' | 'Organization';

export interface Account {
  readonly id: number;
  readonly login: string;
  readonly type: AccountType;
  readonly createdAt: string;
  name: string | null;
  /** Commits with this author/committer email are attributed to the account (besides the noreply forms). */
  email: string | null;
}

export interface RepoState {
  readonly id: number;
  readonly owner: string;
  readonly name: string;
  readonly fullName: string;
  readonly git: BareRepo;
  readonly defaultBranch: string;
  readonly createdAt: string;
  /** The repository this one was forked from. */
  readonly parent: RepoState | undefined;
  nextNumber: number;
}

export type MergeMethod = 'merge' | 'squash' | 'rebase';

export interface PullState {
  readonly id: number;
  readonly number: number;
  readonly repo: RepoState;
  readonly headRepo: RepoState;
  readonly headRef: string;
  readonly author: string;
  readonly createdAt: string;
  readonly draft: boolean;
  baseRef: string;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  updatedAt: string;
  closedAt: string | null;
  maintainerCanModify: boolean;
  requestedReviewers: string[];
  requestedTeams: string[];
  /** Last seen tips of the head and base branches; while open they follow the branches, once closed they stay. */
  headSha: string;
  baseSha: string;
  merged:
    | {
        readonly at: string;
        readonly by: string;
        readonly method: MergeMethod;
        readonly sha: string;
        /** The pull request's own commits (base..head when it merged). */
        readonly commits: readonly string[];
        /** Commits the merge put on the base branch that came from this pull request. */
        readonly introduced: ReadonlySet<string>;
      }
    | undefined;
}

export type ReviewStateName = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING';

export interface ReviewState {
  readonly id: number;
  readonly repo: RepoState;
  readonly pullNumber: number;
  readonly user: string;
  readonly body: string;
  readonly commitId: string | null;
  state: ReviewStateName;
  submittedAt: string | undefined;
}

export interface CommentState {
  readonly id: number;
  readonly repo: RepoState;
  readonly issueNumber: number;
  readonly user: string;
  readonly createdAt: string;
  body: string;
  updatedAt: string;
}

export interface Annotation {
  readonly path: string;
  readonly start_line: number;
  readonly end_line: number;
  readonly start_column?: number;
  readonly end_column?: number;
  readonly annotation_level: 'notice' | 'warning' | 'failure';
  readonly message: string;
  readonly title?: string;
  readonly raw_details?: string;
}

export type CheckStatus = 'queued' | 'in_progress' | 'completed';
export type CheckConclusion = 'action_required' | 'cancelled' | 'failure' | 'neutral' | 'success' | 'skipped' | 'stale' | 'timed_out';

export interface CheckRunState {
  readonly id: number;
  readonly repo: RepoState;
  readonly headSha: string;
  readonly suiteId: number;
  name: string;
  status: CheckStatus;
  conclusion: CheckConclusion | null;
  startedAt: string | null;
  completedAt: string | null;
  detailsUrl: string | null;
  externalId: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  annotations: Annotation[];
}

export interface TeamState {
  readonly id: number;
  readonly org: string;
  readonly slug: string;
  readonly name: string;
  members: string[];
}

/** An authenticated caller: a user or the bot (installation token). */
export interface Caller {
  readonly login: string;
  readonly kind: 'user' | 'installation';
}

/** GitHub timestamps: UTC, seconds, `Z`. */
export const isoNow = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Node IDs in GitHub's current style: a type prefix and an opaque base64 body. */
export function nodeId(prefix: string, id: number): string {
  return `${prefix}_kwDO${Buffer.from(`fake:${prefix}:${id}`).toString('base64url')}`;
}

export class FakeState {
  private nextId = 100_000;
  readonly accounts = new Map<string, Account>();
  /** token → who it authenticates (installation tokens also carry an expiry). */
  readonly tokens = new Map<string, { login: string; kind: Caller['kind']; expiresAt?: number }>();
  readonly repos = new Map<string, RepoState>();
  readonly pulls: PullState[] = [];
  readonly reviews: ReviewState[] = [];
  readonly comments: CommentState[] = [];
  readonly checkRuns: CheckRunState[] = [];
  readonly teams = new Map<string, TeamState>();
  /** One check suite per (repository, head commit), as for a single GitHub App. */
  private readonly suites = new Map<string, number>();

  id(): number {
    return this.nextId++;
  }

  account(login: string, type: AccountType = 'User'): Account {
    let a = this.accounts.get(login.toLowerCase());
    if (!a) {
      a = { id: this.id(), login, type, createdAt: isoNow(), name: null, email: null };
      this.accounts.set(login.toLowerCase(), a);
    }
    return a;
  }

  findAccount(login: string): Account | undefined {
    return this.accounts.get(login.toLowerCase());
  }

  /** The email GitHub gives commits made through the API by an account that set none. */
  noreplyEmail(a: Account): string {
    return `${a.id}+${a.login}@users.noreply.github.com`;
  }

  /** Name and email GitHub writes into commits it makes for an account (merges, API commits). */
  identity(login: string): { name: string; email: string } {
    const a = this.account(login);
    return { name: a.name ?? a.login, email: a.email ?? this.noreplyEmail(a) };
  }

  /** The account a commit email belongs to: a set email or either noreply form. */
  accountByEmail(email: string): Account | undefined {
    const e = email.toLowerCase();
    const noreply = /^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$/.exec(e);
    if (noreply) return this.findAccount(noreply[1]!);
    for (const a of this.accounts.values()) if (a.email?.toLowerCase() === e) return a;
    return undefined;
  }

  mintToken(login: string, kind: Caller['kind'], ttlMs?: number): string {
    const prefix = kind === 'installation' ? 'ghs' : 'ghp';
    const token = `${prefix}_${randomBytes(18).toString('base64url')}`;
    this.tokens.set(token, { login, kind, ...(ttlMs ? { expiresAt: Date.now() + ttlMs } : {}) });
    return token;
  }

  callerFor(token: string): Caller | undefined {
    const t = this.tokens.get(token);
    if (!t || (t.expiresAt !== undefined && t.expiresAt <= Date.now())) return undefined;
    return { login: t.login, kind: t.kind };
  }

  repo(owner: string, name: string): RepoState | undefined {
    return this.repos.get(`${owner}/${name}`.toLowerCase());
  }

  pull(repo: RepoState, number: number): PullState | undefined {
    return this.pulls.find((p) => p.repo === repo && p.number === number);
  }

  team(org: string, slug: string): TeamState | undefined {
    return this.teams.get(`${org}/${slug}`.toLowerCase());
  }

  suiteId(repo: RepoState, headSha: string): number {
    const key = `${repo.fullName}@${headSha}`;
    let id = this.suites.get(key);
    if (id === undefined) {
      id = this.id();
      this.suites.set(key, id);
    }
    return id;
  }

  /** MEMBER for members of a team of the repository's owner, NONE for bots, else COLLABORATOR (all users may write). */
  association(login: string, repo: RepoState): 'MEMBER' | 'COLLABORATOR' | 'NONE' | 'OWNER' {
    if (login.toLowerCase() === repo.owner.toLowerCase()) return 'OWNER';
    if (this.findAccount(login)?.type === 'Bot') return 'NONE';
    for (const t of this.teams.values()) if (t.org.toLowerCase() === repo.owner.toLowerCase() && t.members.some((m) => m.toLowerCase() === login.toLowerCase())) return 'MEMBER';
    return 'COLLABORATOR';
  }
}
