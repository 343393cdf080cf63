/**
 * Which reviews of a pull request count as approval (DESIGN §5), decided from facts alone so the
 * rules are readable in one place and tested without a network. A reviewer counts when their
 * latest review that is not a comment is APPROVED, on the pull request's final head commit, and
 * they are neither its author nor a co-author of its commits nor clawops itself. A later push makes
 * earlier approvals stale (their commit is no longer the head); a later "changes requested" or a
 * dismissal replaces the approval, because only the latest review per person is read.
 */

export interface PullFacts {
  readonly number: number;
  readonly author: string;
  readonly headSha: string;
  /** Logins that wrote the pull request's commits: commit authors and committers, and Co-authored-by trailers we could map to a login. */
  readonly coAuthors: ReadonlySet<string>;
}

export interface ReviewFact {
  readonly id: number;
  readonly login: string | undefined;
  /** APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING (a plain string in GitHub's schema). */
  readonly state: string;
  /** The commit reviewed; null when GitHub no longer has it. */
  readonly commitId: string | null;
  readonly submittedAt?: string;
}

export interface CountedReview {
  readonly login: string;
  readonly reviewId: number;
  readonly submittedAt?: string;
}

export interface ReviewDecision {
  readonly approvedBy: readonly CountedReview[];
  /** Everyone who reviewed and does not count, with the reason (for the hold report). */
  readonly ignored: ReadonlyArray<{ readonly login: string; readonly why: string }>;
}

/** Reviews that say nothing about approval: a comment, or one not yet submitted. */
const NEUTRAL = new Set(['COMMENTED', 'PENDING']);

export function decideReviews(pull: PullFacts, reviews: readonly ReviewFact[], self: ReadonlySet<string>): ReviewDecision {
  // GitHub lists reviews in chronological order; sort anyway, by time and then id, so a
  // reordered page cannot resurrect an approval.
  const ordered = [...reviews].sort((a, b) => (a.submittedAt ?? '').localeCompare(b.submittedAt ?? '') || a.id - b.id);
  const latest = new Map<string, ReviewFact>();
  for (const r of ordered) if (r.login && !NEUTRAL.has(r.state.toUpperCase())) latest.set(r.login.toLowerCase(), r);
  const approvedBy: CountedReview[] = [];
  const ignored: Array<{ login: string; why: string }> = [];
  for (const r of latest.values()) {
    const login = r.login!;
    const why = disqualified(pull, r, self);
    if (why) ignored.push({ login, why });
    else approvedBy.push({ login, reviewId: r.id, ...(r.submittedAt ? { submittedAt: r.submittedAt } : {}) });
  }
  return { approvedBy, ignored };
}

function disqualified(pull: PullFacts, r: ReviewFact, self: ReadonlySet<string>): string | undefined {
  const login = r.login!.toLowerCase();
  const state = r.state.toUpperCase();
  if (state === 'DISMISSED') return 'their review was dismissed';
  if (state !== 'APPROVED') return `their latest review is ${state.toLowerCase().replace('_', ' ')}`;
  if (r.commitId !== pull.headSha) return `approved ${r.commitId?.slice(0, 7) ?? 'a commit GitHub no longer has'}, but the head is ${pull.headSha.slice(0, 7)} (pushed after the approval)`;
  if (login === pull.author.toLowerCase()) return 'the author cannot approve their own pull request';
  if ([...pull.coAuthors].some((c) => c.toLowerCase() === login)) return 'a co-author of its commits cannot approve them';
  if ([...self].some((s) => s.toLowerCase() === login)) return 'clawops does not approve its own changes';
  return undefined;
}

/** `12345+login@users.noreply.github.com` or `login@users.noreply.github.com` → login. */
const NOREPLY = /^(?:\d+\+)?([A-Za-z0-9-]+(?:\[bot\])?)@users\.noreply\.github\.com$/i;

/** Logins named by `Co-authored-by: Name <email>` trailers: GitHub's noreply addresses, or addresses seen on commits whose author login GitHub knows. */
export function coAuthorLogins(messages: readonly string[], knownEmails: ReadonlyMap<string, string>): string[] {
  const out = new Set<string>();
  for (const m of messages) {
    for (const match of m.matchAll(/^co-authored-by:.*<([^>]+)>\s*$/gim)) {
      const email = match[1]!.trim().toLowerCase();
      const login = NOREPLY.exec(email)?.[1] ?? knownEmails.get(email);
      if (login) out.add(login);
    }
  }
  return [...out];
}
