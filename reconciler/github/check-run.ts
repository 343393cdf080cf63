/**
 * One check run per (name, head commit), published complete: found with `checks.listForRef` and
 * updated, else created. GitHub takes at most 50 annotations per request and *appends* the
 * annotations of every update, so the rest go in follow-up updates, and a run that already carries
 * annotations is replaced by a new run (GitHub shows the newest run of a name) rather than updated
 * with a second, contradicting set.
 */
import { isOurs, type GitHubClient } from './client.ts';
import { explainGitHubError } from './errors.ts';
import { fitMarkdown } from './truncate.ts';

export const CHECK_CONCLUSIONS = ['success', 'failure', 'neutral', 'action_required'] as const;
export type CheckConclusion = (typeof CHECK_CONCLUSIONS)[number];
export type AnnotationLevel = 'notice' | 'warning' | 'failure';

/** A check-run annotation, in GitHub's own field names (they go to the API as they are). */
export interface CheckAnnotation {
  /** Path relative to the root of the GitHub repository, with `/`. */
  readonly path: string;
  /** 1-based. */
  readonly start_line: number;
  readonly end_line: number;
  /** Only when start_line === end_line (GitHub refuses columns across lines). */
  readonly start_column?: number;
  readonly end_column?: number;
  readonly annotation_level: AnnotationLevel;
  readonly message: string;
  readonly title?: string;
  readonly raw_details?: string;
}

export interface CheckRunInput {
  readonly name: string;
  readonly headSha: string;
  readonly conclusion: CheckConclusion;
  readonly title: string;
  /** Markdown; cut at a line to GitHub's 65,535 characters. */
  readonly summary: string;
  readonly text?: string;
  /** Required with `action_required`: where the user takes the action. */
  readonly detailsUrl?: string;
  readonly externalId?: string;
  readonly annotations: readonly CheckAnnotation[];
}

export interface CheckRunResult {
  readonly id: number;
  readonly url: string;
  /** `replaced`: ours existed with annotations, which GitHub cannot remove, so a new run supersedes it. */
  readonly action: 'created' | 'updated' | 'replaced';
  /** Annotations sent (beyond MAX_ANNOTATIONS the summary says how many were left out). */
  readonly annotations: number;
  readonly requests: number;
  readonly truncated: boolean;
}

export const OUTPUT_TEXT_LIMIT = 65_535;
export const ANNOTATIONS_PER_REQUEST = 50;
/** Each 50 cost a request; past this many the rest are in the summary and logs only. */
export const MAX_ANNOTATIONS = 1000;
const TITLE_LIMIT = 255;
const MESSAGE_LIMIT = 60_000;

const TRUNCATED_NOTE = '> **Cut** to fit GitHub’s 65,535-character limit; the full plan is in the job summary and `clawops plan` output.';

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** GitHub's rules: lines ≥ 1, end ≥ start, columns only on a single line, bounded text. */
export function normalizeAnnotation(a: CheckAnnotation): CheckAnnotation {
  const start = Math.max(1, Math.trunc(a.start_line) || 1);
  const end = Math.max(start, Math.trunc(a.end_line) || start);
  const out: { -readonly [K in keyof CheckAnnotation]: CheckAnnotation[K] } = {
    path: a.path.replace(/^\.?\/+/, ''),
    start_line: start,
    end_line: end,
    annotation_level: a.annotation_level,
    message: cut(a.message, MESSAGE_LIMIT),
  };
  if (start === end && a.start_column !== undefined && a.start_column >= 1) {
    out.start_column = Math.trunc(a.start_column);
    if (a.end_column !== undefined && a.end_column >= out.start_column) out.end_column = Math.trunc(a.end_column);
  }
  if (a.title) out.title = cut(a.title, TITLE_LIMIT);
  if (a.raw_details) out.raw_details = cut(a.raw_details, MESSAGE_LIMIT);
  return out;
}

interface ListedRun {
  readonly id: number;
  readonly name: string;
  readonly head_sha: string;
  readonly html_url: string | null;
  readonly app: { readonly slug?: string } | null;
  readonly output: { readonly annotations_count: number };
}

/** Whether a run was made by us: by our App (the Actions token acts as the `github-actions` App). */
function madeByUs(gh: GitHubClient, run: ListedRun): boolean {
  const slug = run.app?.slug;
  if (!slug || !gh.login.endsWith('[bot]')) return true;
  return isOurs(gh, `${slug}[bot]`);
}

export async function publishCheckRun(gh: GitHubClient, input: CheckRunInput): Promise<CheckRunResult> {
  if (!CHECK_CONCLUSIONS.includes(input.conclusion)) throw new TypeError(`check run conclusion must be one of ${CHECK_CONCLUSIONS.join(', ')}, not ${input.conclusion}`);
  if (input.conclusion === 'action_required' && !input.detailsUrl) throw new TypeError('an action_required check run needs a detailsUrl (GitHub requires one)');
  const { octokit, owner, repo } = gh;
  const doing = (what: string) => `${what} the check run "${input.name}" for ${input.headSha.slice(0, 7)} in ${owner}/${repo}`;

  const all = input.annotations.map(normalizeAnnotation);
  const annotations = all.slice(0, MAX_ANNOTATIONS);
  const omitted = all.length - annotations.length;
  const summarySource = omitted > 0 ? `${input.summary}\n\n${omitted} more annotations are not shown here; the job log lists them all.` : input.summary;
  const summary = fitMarkdown(summarySource, OUTPUT_TEXT_LIMIT, TRUNCATED_NOTE);
  const text = input.text === undefined ? undefined : fitMarkdown(input.text, OUTPUT_TEXT_LIMIT, TRUNCATED_NOTE);
  const chunks: CheckAnnotation[][] = [];
  for (let i = 0; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) chunks.push(annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
  const output = (chunk: CheckAnnotation[] | undefined) => ({
    title: input.title,
    summary: summary.text,
    ...(text ? { text: text.text } : {}),
    ...(chunk?.length ? { annotations: chunk } : {}),
  });
  const completion = {
    status: 'completed' as const,
    conclusion: input.conclusion,
    completed_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(input.detailsUrl ? { details_url: input.detailsUrl } : {}),
    ...(input.externalId ? { external_id: input.externalId } : {}),
  };

  let existing: ListedRun | undefined;
  try {
    const runs = (await octokit.paginate(octokit.rest.checks.listForRef, {
      owner,
      repo,
      ref: input.headSha,
      check_name: input.name,
      filter: 'all',
      per_page: 100,
    })) as ListedRun[];
    existing = runs
      .filter((r) => r.name === input.name && r.head_sha === input.headSha && madeByUs(gh, r))
      .reduce<ListedRun | undefined>((newest, r) => (!newest || r.id > newest.id ? r : newest), undefined);
  } catch (e) {
    throw explainGitHubError(e, doing('finding'), gh);
  }

  let id: number;
  let url: string;
  let action: CheckRunResult['action'];
  let requests = 0;
  try {
    if (existing && (existing.output.annotations_count ?? 0) === 0) {
      const { data } = await octokit.rest.checks.update({ owner, repo, check_run_id: existing.id, ...completion, output: output(chunks[0]) });
      ({ id } = data);
      url = data.html_url ?? existing.html_url ?? '';
      action = 'updated';
    } else {
      const { data } = await octokit.rest.checks.create({ owner, repo, name: input.name, head_sha: input.headSha, ...completion, output: output(chunks[0]) });
      ({ id } = data);
      url = data.html_url ?? '';
      action = existing ? 'replaced' : 'created';
    }
    requests++;
    for (const chunk of chunks.slice(1)) {
      await octokit.rest.checks.update({ owner, repo, check_run_id: id, output: output(chunk) });
      requests++;
    }
  } catch (e) {
    throw explainGitHubError(e, doing('publishing'), gh);
  }
  return { id, url, action, annotations: annotations.length, requests, truncated: summary.truncated || Boolean(text?.truncated) };
}
