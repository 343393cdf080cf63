/**
 * GitHub's git data API on the real bare repository (refs, commits, trees) and
 * repos/get-content. Commits made here without author/committer carry the caller's identity,
 * the way clawops builds bot branches: create-tree on a base tree, create-commit, create-ref or
 * update-ref.
 *
 * Texts GitHub is known to answer: "Reference already exists", "Update is not a fast forward",
 * "Reference does not exist", "Object does not exist", "Git Repository is empty.". Guessed:
 * the texts for a bad tree entry or base_tree and for a ref name without `refs/`.
 */
import { BadTreeEntry, type GitPerson, type TreeChange } from './bare-repo.ts';
import { isoNow } from './github-state.ts';
import { caller, fail, nonEmpty, notFound, ok, repoOf, type Route, type RouteContext } from './routes.ts';

interface CreateCommitBody {
  message: string;
  tree: string;
  parents?: string[];
  author?: { name: string; email: string; date?: string };
  committer?: { name?: string; email?: string; date?: string };
  signature?: string;
}

/** `heads/main` (path parameter) → `refs/heads/main`. */
const fullRef = (ctx: RouteContext) => `refs/${(ctx.params.ref ?? '').replace(/^refs\//, '')}`;

const getRef: Route = async (ctx) => {
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const ref = fullRef(ctx);
  const sha = (await repo.git.refs()).get(ref);
  return sha ? ok(ctx.shapes.gitRef(repo, ref, sha, await repo.git.objectType(sha))) : notFound(ctx);
};

const createRef: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const { ref, sha } = ctx.body as { ref: string; sha: string };
  if (!/^refs\/[^/]+\/.+/.test(ref)) fail(ctx, 422, `${ref} is not a valid ref name.`);
  const type = await repo.git.objectType(sha);
  if (!type) fail(ctx, 422, 'Object does not exist');
  const full = (await repo.git.resolveCommit(sha)) ?? sha;
  if (!(await repo.git.updateRef(ref, full, undefined))) fail(ctx, 422, 'Reference already exists');
  return ok(ctx.shapes.gitRef(repo, ref, full, type), 201);
};

const updateRef: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const ref = fullRef(ctx);
  const { sha, force = false } = ctx.body as { sha: string; force?: boolean };
  const current = (await repo.git.refs()).get(ref);
  if (!current) fail(ctx, 422, 'Reference does not exist');
  const next = await repo.git.resolveCommit(sha);
  if (!next) fail(ctx, 422, 'Object does not exist');
  if (!force && !(await repo.git.isAncestor(current!, next!))) fail(ctx, 422, 'Update is not a fast forward');
  // Compare-and-swap against what was read: a concurrent push makes this fail rather than be lost.
  if (!(await repo.git.updateRef(ref, next!, current))) fail(ctx, 409, 'Reference cannot be updated');
  return ok(ctx.shapes.gitRef(repo, ref, next!));
};

const deleteRef: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const ref = fullRef(ctx);
  const current = (await repo.git.refs()).get(ref);
  if (!current || !(await repo.git.deleteRef(ref, current))) fail(ctx, 422, 'Reference does not exist');
  return { status: 204 };
};

const getCommit: Route = async (ctx) => {
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const commit = await repo.git.readCommit(ctx.params.commit_sha ?? '');
  return commit ? ok(ctx.shapes.gitCommit(repo, commit)) : notFound(ctx);
};

const createTree: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const body = ctx.body as { base_tree?: string; tree: TreeChange[] };
  if (body.base_tree !== undefined && (await repo.git.objectType(body.base_tree)) !== 'tree') fail(ctx, 422, 'base_tree is not a valid tree oid');
  let sha: string;
  try {
    sha = await repo.git.buildTree(body.base_tree, body.tree);
  } catch (e) {
    if (e instanceof BadTreeEntry) fail(ctx, 422, e.message);
    throw e;
  }
  return ok(ctx.shapes.gitTree(repo, sha, await repo.git.listTree(sha)), 201);
};

const createCommit: Route = async (ctx) => {
  const who = caller(ctx);
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const body = ctx.body as CreateCommitBody;
  if ((await repo.git.objectType(body.tree)) !== 'tree') fail(ctx, 422, 'Tree SHA does not exist');
  const parents: string[] = [];
  for (const p of body.parents ?? []) {
    const full = (await repo.git.objectType(p)) === 'commit' ? await repo.git.resolveCommit(p) : undefined;
    if (!full) fail(ctx, 422, 'Parent SHA does not exist or is not a commit object');
    parents.push(full!);
  }
  const now = isoNow();
  const author: GitPerson = body.author ? { name: body.author.name, email: body.author.email, date: body.author.date ?? now } : { ...ctx.state.identity(who.login), date: now };
  // GitHub: the committer defaults to the author.
  const committer: GitPerson = { name: body.committer?.name ?? author.name, email: body.committer?.email ?? author.email, date: body.committer?.date ?? author.date };
  const sha = await repo.git.commitTree({ tree: body.tree, parents, message: body.message, author, committer, ...(body.signature ? { signature: body.signature } : {}) });
  return ok(ctx.shapes.gitCommit(repo, (await repo.git.readCommit(sha))!), 201);
};

const getContent: Route = async (ctx) => {
  const repo = repoOf(ctx);
  if (await repo.git.isEmpty()) fail(ctx, 404, 'This repository is empty.');
  const ref = ctx.query.get('ref') ?? repo.defaultBranch;
  const commit = (await repo.git.resolveCommit(`refs/heads/${ref}`)) ?? (await repo.git.resolveCommit(ref));
  if (!commit) fail(ctx, 404, `No commit found for the ref ${ref}`);
  const path = (ctx.params.path ?? '').replace(/^\/+|\/+$/g, '');
  const entry = path ? (await repo.git.listTree(`${commit}:${path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : ''}`).catch(() => [])).find((e) => e.path === path.split('/').pop()) : undefined;
  if (!entry) return notFound(ctx);
  const located = { ...entry, path };
  if (entry.type === 'tree') {
    const children = await repo.git.listTree(entry.sha);
    return ok(children.map((c) => ctx.shapes.content(repo, ref, { ...c, path: `${path}/${c.path}` })));
  }
  // Submodules get a made-up URL (the fake hosts none); symlinks answer with their target.
  if (entry.type === 'commit') return ok({ ...ctx.shapes.content(repo, ref, located), submodule_git_url: `${ctx.shapes.gitBase}/submodule.git` });
  const bytes = await repo.git.readBlob(entry.sha);
  if (entry.mode === '120000') return ok({ ...ctx.shapes.content(repo, ref, located), target: bytes.toString('utf8') });
  return ok(ctx.shapes.content(repo, ref, located, bytes));
};

export const gitRoutes: Readonly<Record<string, Route>> = {
  'git/get-ref': getRef,
  'git/create-ref': createRef,
  'git/update-ref': updateRef,
  'git/delete-ref': deleteRef,
  'git/get-commit': getCommit,
  'git/create-tree': createTree,
  'git/create-commit': createCommit,
  'repos/get-content': getContent,
};
