/**
 * Loads a fleet repo: clawops.yaml, every YAML resource in any layout, schema checks and
 * cross-resource checks. Bad input never throws; it becomes diagnostics. Only a repo that cannot be
 * read at all (no such folder, no clawops.yaml) is a `RepoNotFoundError`.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClawopsError } from '../errors.ts';
import { compareDiagnostics, formatDiagnostic, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { didYouMean } from '../diagnostics/did-you-mean.ts';
import { API_VERSION } from '../model/common.ts';
import { isKindName, KIND_NAMES, KINDS } from '../model/kinds.ts';
import { REPOSITORY_FILE, RepositoryConfig } from '../model/repository.ts';
import { checkReferences } from './check-references.ts';
import { repoPolicy, type RepoPolicy } from '../policy/repo-policy.ts';
import { DEFAULT_LIMITS, formatBytes, type LoadLimits } from './limits.ts';
import { parseYamlFile, type ParsedDocument } from './parse-yaml-file.ts';
import type { BrokenResource, LoadedResource } from './resource.ts';
import { SchemaRegistry } from './schema-validator.ts';
import type { SourceLocator } from './source-map.ts';
import { walkRepo } from './walk-repo.ts';

export class RepoNotFoundError extends ClawopsError<{ repo: string }> {
  readonly code = 'REPO_NOT_FOUND';
}

export interface FleetRepo {
  readonly root: string;
  readonly config: RepositoryConfig | undefined;
  readonly resources: LoadedResource[];
  readonly fileCount: number;
  /** Sorted by file, line and column. */
  readonly diagnostics: Diagnostic[];
  /** The repo's policy (packs it enables, its own Policies, its exceptions), compiled. */
  readonly policy: RepoPolicy;
}

export interface LoadOptions {
  readonly limits?: LoadLimits;
  /** The clock PolicyExceptions expire against (default: now). */
  readonly now?: Date;
}

// The built-in schemas are constants, so their compiled validators are shared by every load in
// the process; compiling them is most of the cost of validating a small repo.
const schemas = new SchemaRegistry();

/** Files read at once: enough to hide disk latency, few enough never to hit the open-file limit. */
const READ_CONCURRENCY = 32;

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function readChecked(file: string, absolute: string, size: number, limits: LoadLimits, diagnostics: Diagnostic[]): Promise<Uint8Array | undefined> {
  if (size > limits.maxFileBytes) {
    diagnostics.push({
      severity: 'error',
      code: 'file-too-large',
      file,
      message: `the file is ${formatBytes(size)}; the limit is ${formatBytes(limits.maxFileBytes)}`,
      hint: 'split it into smaller files, or add it to `ignore` in clawops.yaml if it is not a clawops resource',
    });
    return undefined;
  }
  try {
    return await readFile(absolute);
  } catch (e) {
    diagnostics.push({ severity: 'error', code: 'unreadable-file', file, message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
    return undefined;
  }
}

function toResource(file: string, doc: ParsedDocument, diagnostics: Diagnostic[], broken: BrokenResource[]): LoadedResource | undefined {
  const where = (path: Array<string | number>, at: 'key' | 'value' = 'value') => ({ file, ...doc.locator.locate(path, at) });
  const v = doc.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    diagnostics.push({
      ...where([]),
      severity: 'error',
      code: 'not-a-mapping',
      message: `a resource must be a mapping with apiVersion, kind, metadata and spec, not ${Array.isArray(v) ? 'a list' : typeof v === 'string' ? 'a string' : String(v)}`,
      hint: 'start the document with `apiVersion: clawops.dev/v1`',
    });
    return undefined;
  }
  const value = v as Record<string, unknown>;
  const rawName = (value.metadata as { name?: unknown } | undefined)?.name;
  const label = (kind: string) => `${kind}/${typeof rawName === 'string' ? rawName : '?'}`;
  if (value.apiVersion !== API_VERSION) {
    diagnostics.push({
      ...where(['apiVersion']),
      severity: 'error',
      code: value.apiVersion === undefined ? 'missing-field' : 'unknown-api-version',
      field: 'apiVersion',
      resource: typeof value.kind === 'string' ? label(value.kind) : undefined,
      message: value.apiVersion === undefined ? 'missing required field "apiVersion"' : `unknown apiVersion ${JSON.stringify(value.apiVersion)}`,
      hint: `use \`apiVersion: ${API_VERSION}\`, or add this file to \`ignore\` in clawops.yaml if it is not a clawops resource`,
    });
    return undefined;
  }
  if (!isKindName(value.kind)) {
    const guess = typeof value.kind === 'string' ? didYouMean(value.kind, KIND_NAMES) : undefined;
    diagnostics.push({
      ...where(['kind']),
      severity: 'error',
      code: value.kind === undefined ? 'missing-field' : 'unknown-kind',
      field: 'kind',
      message: value.kind === undefined ? 'missing required field "kind"' : `unknown kind ${JSON.stringify(value.kind)}`,
      hint: guess ? `did you mean "${guess}"?` : `one of: ${KIND_NAMES.join(', ')}`,
    });
    return undefined;
  }
  const kind = value.kind;
  const problems = schemas.check(KINDS[kind], value, { file, resource: label(kind), locator: doc.locator });
  if (problems.length) {
    diagnostics.push(...problems);
    if (typeof rawName === 'string') {
      const labels = (value.metadata as { labels?: unknown }).labels;
      const plain = labels && typeof labels === 'object' ? Object.fromEntries(Object.entries(labels).filter(([, v]) => typeof v === 'string')) : {};
      broken.push({ kind, name: rawName, labels: plain as Record<string, string> });
    }
    return undefined;
  }
  return { kind, name: rawName as string, value, file, documentIndex: doc.index, line: doc.line, locator: doc.locator } as LoadedResource;
}

async function readConfig(
  configPath: string,
  size: number,
  limits: LoadLimits,
  diagnostics: Diagnostic[],
): Promise<{ config: RepositoryConfig | undefined; configLocator: SourceLocator | undefined }> {
  const bytes = await readChecked(REPOSITORY_FILE, configPath, size, limits, diagnostics);
  if (!bytes) return { config: undefined, configLocator: undefined };
  const parsed = parseYamlFile(REPOSITORY_FILE, bytes, limits);
  diagnostics.push(...parsed.diagnostics.filter((d) => d.code !== 'empty-file'));
  const docs = parsed.documents;
  if (docs.length === 0 && !parsed.diagnostics.some((d) => d.severity === 'error')) {
    diagnostics.push({
      severity: 'error',
      code: 'missing-field',
      file: REPOSITORY_FILE,
      message: `${REPOSITORY_FILE} is empty`,
      hint: 'it needs at least `apiVersion`, `kind: Repository` and `spec.secrets.recipients`; see `clawops init`',
    });
  } else if (docs.length > 1) {
    diagnostics.push({ severity: 'error', code: 'too-many-documents', file: REPOSITORY_FILE, line: docs[1]!.line, col: 1, message: `${REPOSITORY_FILE} must hold exactly one document`, hint: 'move resources into their own files' });
  } else if (docs[0]) {
    const problems = schemas.check(RepositoryConfig, docs[0].value, { file: REPOSITORY_FILE, resource: 'Repository', locator: docs[0].locator });
    diagnostics.push(...problems);
    if (!problems.length) return { config: docs[0].value as RepositoryConfig, configLocator: docs[0].locator };
  }
  return { config: undefined, configLocator: undefined };
}

async function repoPaths(repo: string): Promise<{ root: string; configPath: string; configSize: number }> {
  const root = resolve(repo);
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw new RepoNotFoundError(`${repo} is not a folder`, { repo });
  const configPath = join(root, REPOSITORY_FILE);
  const configStat = await stat(configPath).catch(() => undefined);
  if (!configStat?.isFile()) {
    throw new RepoNotFoundError(`no ${REPOSITORY_FILE} in ${repo}; run \`clawops init ${repo}\` to start a fleet repo, or pass --repo`, { repo });
  }
  return { root, configPath, configSize: configStat.size };
}

export class InvalidRepoConfigError extends ClawopsError<{ diagnostics: Diagnostic[] }> {
  readonly code = 'INVALID_REPO_CONFIG';
}

/** Only clawops.yaml, for commands that need the settings but not the resources (e.g. `secrets`). */
export async function loadRepoConfig(repo: string): Promise<{ root: string; config: RepositoryConfig }> {
  const { root, configPath, configSize } = await repoPaths(repo);
  const diagnostics: Diagnostic[] = [];
  const { config } = await readConfig(configPath, configSize, DEFAULT_LIMITS, diagnostics);
  if (!config) {
    throw new InvalidRepoConfigError(`${REPOSITORY_FILE} is invalid; run \`clawops validate\`:\n${diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n')}`, { diagnostics });
  }
  return { root, config };
}

export async function loadRepo(repo: string, options: LoadOptions = {}): Promise<FleetRepo> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const { root, configPath, configSize } = await repoPaths(repo);
  const diagnostics: Diagnostic[] = [];
  const { config, configLocator } = await readConfig(configPath, configSize, limits, diagnostics);
  const walked = await walkRepo(root, config?.spec.ignore ?? [], limits);
  diagnostics.push(...walked.diagnostics);
  const files = walked.files.filter((f) => f.path !== REPOSITORY_FILE);
  const resources: LoadedResource[] = [];
  const broken: BrokenResource[] = [];
  await forEachLimited(files, READ_CONCURRENCY, async (f) => {
    const bytes = await readChecked(f.path, f.absolute, f.size, limits, diagnostics);
    if (!bytes) return;
    const parsed = parseYamlFile(f.path, bytes, limits);
    diagnostics.push(...parsed.diagnostics);
    for (const doc of parsed.documents) {
      const r = toResource(f.path, doc, diagnostics, broken);
      if (r) resources.push(r);
    }
  });
  resources.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.documentIndex - b.documentIndex));
  diagnostics.push(...(await checkReferences({ root, config, resources, broken, schemas, configLocator })));
  const policy = await repoPolicy({ config, resources, schemas, now: options.now ?? new Date() });
  diagnostics.push(...policy.diagnostics);
  diagnostics.sort(compareDiagnostics);
  return { root, config, resources, fileCount: files.length + 1, diagnostics, policy };
}
