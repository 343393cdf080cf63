/**
 * Writes `test/fixtures/github/openapi-subset.json`: the operations clawops calls on GitHub, cut
 * from GitHub's published OpenAPI description with everything they reference. The GitHub test
 * double (test/helpers/github/) validates every request and response against this file, so a fake
 * that drifts from GitHub fails the tests. The full description is 13 MB inside a 385 MB package,
 * so it is never a dependency: install it in a scratch folder and point this script at it.
 *
 *   npm install --prefix .cache/gh-openapi @octokit/openapi@23.0.2
 *   node scripts/extract-github-openapi.ts .cache/gh-openapi/node_modules/@octokit/openapi
 *
 * Examples, `x-github` metadata and the descriptions of schemas and parameters are dropped (they
 * weigh more than the schemas and validate nothing; GitHub's own examples do not always pass its
 * schemas). Operation descriptions stay: they state the semantics the double models. Kept too:
 * `x-github-breaking-changes`, GitHub's notice of what a newer API version removes (e.g.
 * `merge_commit_sha` in 2026-03-10). Keys are sorted so a refresh diffs cleanly.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What clawops (and the double) use; add an operationId here and re-run to widen the subset. */
export const GITHUB_OPERATIONS = [
  'apps/create-installation-access-token',
  'apps/get-authenticated',
  'apps/get-repo-installation',
  'checks/create',
  'checks/list-for-ref',
  'checks/update',
  'git/create-commit',
  'git/create-ref',
  'git/create-tree',
  'git/delete-ref',
  'git/get-commit',
  'git/get-ref',
  'git/update-ref',
  'issues/create-comment',
  'issues/list-comments',
  'issues/update-comment',
  'pulls/create',
  'pulls/create-review',
  'pulls/dismiss-review',
  'pulls/get',
  'pulls/list',
  'pulls/list-commits',
  'pulls/list-reviews',
  'pulls/merge',
  'pulls/request-reviewers',
  'pulls/update',
  'repos/get',
  'repos/get-content',
  'repos/list-pull-requests-associated-with-commit',
  'teams/list-members-in-org',
  'users/get-authenticated',
] as const;

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const DROPPED_KEYS = new Set(['examples', 'example', 'x-github']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(message: string): never {
  console.error(`extract-github-openapi: ${message}`);
  process.exit(1);
}

/**
 * A copy without examples, metadata and descriptions, keys sorted. Descriptions stay where they
 * carry meaning or OpenAPI requires them: an operation's own, and every response's (required).
 */
function clean(value: Json, keepOwnDescription = false): Json {
  if (Array.isArray(value)) return value.map((v) => clean(v));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) {
    if (DROPPED_KEYS.has(key) || (key === 'description' && !keepOwnDescription)) continue;
    const child = value[key]!;
    out[key] = key === 'responses' && isObject(child) ? Object.fromEntries(Object.entries(child).map(([status, r]) => [status, clean(r, true)])) : clean(child);
  }
  return out;
}

function refsIn(value: Json, found: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) refsIn(v, found);
  else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.add(v);
      else refsIn(v, found);
    }
  }
}

export function extractSubset(spec: JsonObject, operationIds: readonly string[], source: JsonObject): JsonObject {
  const wanted = new Set(operationIds);
  const paths: JsonObject = {};
  const rawPaths = isObject(spec.paths) ? spec.paths : fail('the description has no `paths`');
  for (const path of Object.keys(rawPaths).sort()) {
    const item = rawPaths[path];
    if (!isObject(item)) continue;
    const kept: JsonObject = {};
    for (const [method, op] of Object.entries(item)) {
      if (HTTP_METHODS.has(method) && isObject(op) && typeof op.operationId === 'string' && wanted.has(op.operationId)) {
        kept[method] = clean(op, true);
        wanted.delete(op.operationId);
      }
    }
    if (Object.keys(kept).length === 0) continue;
    // Path-level parameters apply to every operation under the path.
    if (item.parameters !== undefined) kept.parameters = clean(item.parameters);
    paths[path] = kept;
  }
  if (wanted.size > 0) fail(`operations not found in the description: ${[...wanted].join(', ')}`);

  // Every component reachable from the kept operations, transitively.
  const components = isObject(spec.components) ? spec.components : fail('the description has no `components`');
  const keptComponents: Record<string, JsonObject> = {};
  const pending = new Set<string>();
  refsIn(paths, pending);
  const seen = new Set<string>();
  while (pending.size > 0) {
    const ref = pending.values().next().value!;
    pending.delete(ref);
    if (seen.has(ref)) continue;
    seen.add(ref);
    const m = /^#\/components\/([^/]+)\/([^/]+)$/.exec(ref);
    if (!m) fail(`unsupported $ref ${ref} (only #/components/<kind>/<name> is handled)`);
    const [, kind, name] = m as unknown as [string, string, string];
    const target = isObject(components[kind]) ? components[kind][name] : undefined;
    if (target === undefined) fail(`$ref ${ref} points at nothing`);
    const copy = clean(target, kind === 'responses');
    (keptComponents[kind] ??= {})[name] = copy;
    refsIn(copy, pending);
  }
  const sortedComponents: JsonObject = {};
  for (const kind of Object.keys(keptComponents).sort()) {
    const entries = keptComponents[kind]!;
    sortedComponents[kind] = Object.fromEntries(Object.keys(entries).sort().map((n) => [n, entries[n]!]));
  }
  const info = isObject(spec.info) ? spec.info : {};
  return {
    openapi: spec.openapi ?? '3.0.3',
    info: { title: info.title ?? 'GitHub v3 REST API', version: info.version ?? 'unknown' },
    'x-clawops-source': source,
    paths,
    components: sortedComponents,
  };
}

function main(): void {
  const [pkgArg, outArg] = process.argv.slice(2);
  if (!pkgArg) fail('usage: node scripts/extract-github-openapi.ts <folder of an installed @octokit/openapi> [output file]');
  const pkgDir = resolve(pkgArg);
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const out = resolve(outArg ?? join(root, 'test/fixtures/github/openapi-subset.json'));
  const readJson = (file: string): JsonObject => {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as Json;
      return isObject(parsed) ? parsed : fail(`${file} is not a JSON object`);
    } catch (e) {
      return fail(`cannot read ${file}: ${(e as Error).message} (install it with: npm install --prefix .cache/gh-openapi @octokit/openapi@23.0.2)`);
    }
  };
  const pkg = readJson(join(pkgDir, 'package.json'));
  if (pkg.name !== '@octokit/openapi') fail(`${pkgDir} holds ${String(pkg.name)}, not @octokit/openapi`);
  // The plain description (refs intact), not the dereferenced one: refs keep the subset small.
  const spec = readJson(join(pkgDir, 'generated', 'api.github.com.json'));
  const info = isObject(spec.info) ? spec.info : {};
  const subset = extractSubset(spec, GITHUB_OPERATIONS, { package: '@octokit/openapi', version: pkg.version ?? 'unknown', infoVersion: info.version ?? 'unknown', operations: [...GITHUB_OPERATIONS] });
  mkdirSync(dirname(out), { recursive: true });
  const text = `${JSON.stringify(subset, null, 1)}\n`;
  writeFileSync(out, text);
  const components = subset.components as Record<string, JsonObject>;
  const counts = Object.entries(components).map(([k, v]) => `${Object.keys(v).length} ${k}`).join(', ');
  console.log(`${out}: ${GITHUB_OPERATIONS.length} operations, ${counts}, ${(text.length / 1024).toFixed(0)} KB (from @octokit/openapi ${String(pkg.version)}, info.version ${String(info.version)})`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
