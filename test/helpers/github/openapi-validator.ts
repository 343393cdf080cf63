/**
 * Checks HTTP exchanges with GitHub (real or fake) against GitHub's published OpenAPI description
 * (the subset in test/fixtures/github/openapi-subset.json, cut by scripts/extract-github-openapi.ts):
 * the operation exists, path/query parameters and the JSON request body match, the status is one
 * the operation may answer, and the JSON response body matches the schema documented for it.
 *
 * OpenAPI 3.0 schemas are almost draft-04 JSON Schema; Ajv 8 reads them with `strict: false` once
 * two differences are rewritten: `nullable` without `type` (Ajv refuses it) becomes an `anyOf` with
 * null, and a nullable `enum` gains `null` (Ajv would reject null by the enum).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats ships CommonJS whose default export TypeScript sees as the module namespace.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const DEFAULT_SUBSET_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'github', 'openapi-subset.json');

/**
 * Statuses GitHub may answer on any operation although most operations do not list them:
 * GitHub's REST docs ("Troubleshooting the REST API", "Rate limits for the REST API") describe
 * 401 bad credentials, 403 forbidden / rate limited ("Resource not accessible by integration",
 * secondary limits), 404 for a missing or invisible resource, 422 for a rejected body, 429 and
 * server errors as possible answers of every endpoint (the description omits e.g. 404 on
 * teams/list-members-in-org). Their bodies are still checked (basic error or validation error).
 * Every other status must be documented for the operation.
 */
export const ANY_OPERATION_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 422, 429, 500, 502, 503, 504]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: JsonObject;
  readonly 'x-multi-segment'?: boolean;
}

interface Operation {
  readonly operationId: string;
  readonly method: string;
  readonly pathTemplate: string;
  readonly parameters: readonly Parameter[];
  readonly requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonObject }> };
  readonly responses: Readonly<Record<string, { content?: Record<string, { schema?: JsonObject }> }>>;
  readonly docsUrl: string | undefined;
  readonly pattern: RegExp;
  readonly pathParamNames: readonly string[];
  readonly literalLength: number;
}

export interface OperationMatch {
  readonly operationId: string;
  readonly pathTemplate: string;
  /** Path parameters, percent-decoded (`heads%2Fmain` → `heads/main`). */
  readonly params: Readonly<Record<string, string>>;
}

export interface Exchange {
  readonly method: string;
  /** Absolute URL or path with query (`/repos/o/r/pulls?state=all`). */
  readonly url: string;
  /** Parsed JSON request body, if any. */
  readonly requestBody?: unknown;
  readonly status: number;
  readonly responseHeaders?: Headers | Readonly<Record<string, string | readonly string[] | number | undefined>>;
  /** Parsed JSON response body; undefined when the response had none. */
  readonly responseBody?: unknown;
}

export interface SpecSource {
  readonly package: string;
  readonly version: string;
  readonly infoVersion: string;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** OpenAPI 3.0 → what Ajv accepts (see the file comment), refs pointed at the spec added as `gh`. */
function toAjvSchema(value: Json): Json {
  if (Array.isArray(value)) return value.map(toAjvSchema);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `gh${v}` : toAjvSchema(v);
  if (out.nullable === true) {
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (out.type === undefined) {
      delete out.nullable;
      return { anyOf: [{ type: 'null' }, out] };
    }
  }
  return out;
}

function headerMap(headers: Exchange['responseHeaders']): Map<string, string> {
  const map = new Map<string, string>();
  if (!headers) return map;
  if (headers instanceof Headers) {
    headers.forEach((value, key) => map.set(key.toLowerCase(), value));
    return map;
  }
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) map.set(k.toLowerCase(), Array.isArray(v) ? v.join(', ') : String(v));
  return map;
}

function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid';
  // The deepest errors say what is wrong; oneOf/anyOf summaries only say that something is.
  const depth = (e: ErrorObject) => e.instancePath.split('/').length;
  const max = Math.max(...errors.map(depth));
  const picked = errors.filter((e) => depth(e) === max && e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  const shown = (picked.length > 0 ? picked : errors).slice(0, 3).map((e) => {
    const where = e.instancePath || '(root)';
    const extra = e.keyword === 'enum' ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})` : '';
    return `${where} ${e.message ?? e.keyword}${extra}`;
  });
  return [...new Set(shown)].join('; ');
}

export class GitHubSpec {
  readonly source: SpecSource;
  readonly operations: ReadonlyMap<string, Operation>;
  private readonly document: JsonObject;
  private readonly ajv: Ajv;
  private readonly paramAjv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(document: JsonObject) {
    this.document = document;
    const src = isObject(document['x-clawops-source']) ? document['x-clawops-source'] : {};
    this.source = { package: String(src.package ?? 'unknown'), version: String(src.version ?? 'unknown'), infoVersion: String(src.infoVersion ?? 'unknown') };
    const prepared = toAjvSchema(document) as JsonObject;
    const makeAjv = (coerceTypes: boolean) => {
      const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes, validateFormats: true });
      addFormats(ajv);
      // GitHub's own format: "owner/name" of a repository (pulls/create `head_repo`).
      ajv.addFormat('repo.nwo', /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/);
      ajv.addSchema(prepared, 'gh');
      return ajv;
    };
    this.ajv = makeAjv(false);
    // Query and path parameters arrive as strings; GitHub reads `per_page=2` as the integer 2.
    this.paramAjv = makeAjv(true);
    const operations = new Map<string, Operation>();
    const paths = isObject(document.paths) ? document.paths : {};
    for (const [pathTemplate, item] of Object.entries(paths)) {
      if (!isObject(item)) continue;
      const shared = Array.isArray(item.parameters) ? item.parameters : [];
      for (const [method, op] of Object.entries(item)) {
        if (!isObject(op) || typeof op.operationId !== 'string') continue;
        const parameters = [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])].map((p) => this.resolve(p) as unknown as Parameter);
        const multi = new Set(parameters.filter((p) => p.in === 'path' && p['x-multi-segment']).map((p) => p.name));
        const pathParamNames: string[] = [];
        let literalLength = 0;
        const source = pathTemplate.replace(/\{([^}]+)\}|[^{]+/g, (part, name: string | undefined) => {
          if (name === undefined) {
            literalLength += part.length;
            return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
          }
          pathParamNames.push(name);
          return multi.has(name) ? '(.+?)' : '([^/]+)';
        });
        const responses: Record<string, { content?: Record<string, { schema?: JsonObject }> }> = {};
        for (const [status, r] of Object.entries(isObject(op.responses) ? op.responses : {})) responses[status] = this.resolve(r) as { content?: Record<string, { schema?: JsonObject }> };
        const docs = isObject(op.externalDocs) && typeof op.externalDocs.url === 'string' ? op.externalDocs.url : undefined;
        operations.set(op.operationId, {
          operationId: op.operationId,
          method: method.toUpperCase(),
          pathTemplate,
          parameters,
          requestBody: isObject(op.requestBody) ? (this.resolve(op.requestBody) as Operation['requestBody']) : undefined,
          responses,
          docsUrl: docs,
          pattern: new RegExp(`^${source}/?$`),
          pathParamNames,
          literalLength,
        });
      }
    }
    this.operations = operations;
  }

  /** Follows `$ref`s to components that are not schemas (parameters, responses). */
  private resolve(value: Json): Json {
    let v = value;
    for (let i = 0; isObject(v) && typeof v.$ref === 'string' && i < 10; i++) {
      const pointer: string = v.$ref;
      v = pointer
        .slice(2)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<Json>((node, key) => (isObject(node) ? (node[key] ?? null) : null), this.document);
    }
    return v;
  }

  private compile(key: string, schema: JsonObject, forParams = false): ValidateFunction {
    const cacheKey = `${forParams ? 'p' : 'b'}:${key}`;
    let fn = this.validators.get(cacheKey);
    if (!fn) {
      fn = (forParams ? this.paramAjv : this.ajv).compile(toAjvSchema(schema) as JsonObject);
      this.validators.set(cacheKey, fn);
    }
    return fn;
  }

  /** The documentation URL GitHub puts in error bodies for this operation. */
  docsUrl(operationId: string): string {
    return this.operations.get(operationId)?.docsUrl ?? 'https://docs.github.com/rest';
  }

  matchOperation(method: string, path: string): OperationMatch | undefined {
    const pathname = path.split('?')[0] ?? path;
    let best: { op: Operation; values: string[] } | undefined;
    for (const op of this.operations.values()) {
      if (op.method !== method.toUpperCase()) continue;
      const m = op.pattern.exec(pathname);
      if (m && (!best || op.literalLength > best.op.literalLength)) best = { op, values: m.slice(1) };
    }
    if (!best) return undefined;
    const params: Record<string, string> = {};
    best.op.pathParamNames.forEach((name, i) => {
      const raw = best.values[i] ?? '';
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        params[name] = raw;
      }
    });
    return { operationId: best.op.operationId, pathTemplate: best.op.pathTemplate, params };
  }

  /** Statuses the operation documents, plus those any operation may answer. */
  allowsStatus(operationId: string, status: number): boolean {
    const op = this.operations.get(operationId);
    return !!op && (String(status) in op.responses || 'default' in op.responses || ANY_OPERATION_STATUSES.has(status));
  }

  /** Problems with a request: parameters (path and query) and JSON body. */
  validateRequest(operationId: string, params: Readonly<Record<string, string>>, query: URLSearchParams, body: unknown): string[] {
    const op = this.operations.get(operationId);
    if (!op) return [`unknown operation ${operationId}`];
    const problems: string[] = [];
    for (const where of ['path', 'query'] as const) {
      const declared = op.parameters.filter((p) => p.in === where);
      const values: Record<string, string> = {};
      for (const p of declared) {
        const v = where === 'path' ? params[p.name] : (query.get(p.name) ?? undefined);
        if (v !== undefined) values[p.name] = v;
      }
      const schema: JsonObject = {
        type: 'object',
        properties: Object.fromEntries(declared.map((p) => [p.name, p.schema ?? {}])),
        required: declared.filter((p) => p.required).map((p) => p.name),
      };
      const fn = this.compile(`${operationId}:${where}`, schema, true);
      if (!fn(values)) problems.push(`${where} parameters invalid: ${describeErrors(fn.errors)}`);
    }
    const content = op.requestBody?.content;
    const bodySchema = content?.['application/json']?.schema;
    if (body === undefined) {
      if (op.requestBody?.required) problems.push('request body missing (the operation requires one)');
    } else if (!bodySchema) {
      problems.push('request body sent to an operation that takes none');
    } else {
      const fn = this.compile(`${operationId}:request`, bodySchema);
      if (!fn(body)) problems.push(`request body invalid: ${describeErrors(fn.errors)}`);
    }
    return problems;
  }

  /** Problems with a response: undocumented status, missing or invalid JSON body. */
  validateResponse(operationId: string, status: number, headers: Exchange['responseHeaders'], body: unknown): string[] {
    const op = this.operations.get(operationId);
    if (!op) return [`unknown operation ${operationId}`];
    const documented = op.responses[String(status)] ?? op.responses.default;
    if (!documented && !ANY_OPERATION_STATUSES.has(status)) {
      return [`status ${status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`];
    }
    if (status >= 500 && !documented) return [];
    const contentType = (headerMap(headers).get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    let schema: JsonObject | undefined;
    let schemaKey = `${operationId}:${status}`;
    if (documented) {
      const content = documented.content ?? {};
      const media = contentType && content[contentType] ? contentType : 'application/json';
      schema = content[media]?.schema;
      schemaKey += `:${media}`;
      if (Object.keys(content).length > 0 && body === undefined) return [`response ${status} has no body, but the description documents ${Object.keys(content).join(', ')} content`];
    } else {
      // A status any operation may answer: GitHub's error shapes.
      schema = status === 422 ? { anyOf: [{ $ref: '#/components/schemas/validation-error' }, { $ref: '#/components/schemas/validation-error-simple' }, { $ref: '#/components/schemas/basic-error' }] } : { $ref: '#/components/schemas/basic-error' };
      schemaKey += ':error';
      if (body === undefined) return [`response ${status} has no body; GitHub answers errors with a JSON message`];
    }
    if (!schema || body === undefined) return [];
    if (status < 300 || status >= 400) {
      const fn = this.compile(schemaKey, schema);
      if (!fn(body)) return [`response ${status} body invalid: ${describeErrors(fn.errors)}`];
    }
    return [];
  }

  /** Every problem with one request/response pair; empty when it is as GitHub documents it. */
  validateExchange(ex: Exchange): string[] {
    const url = new URL(ex.url, 'http://127.0.0.1');
    const label = `${ex.method.toUpperCase()} ${url.pathname}`;
    const match = this.matchOperation(ex.method, url.pathname);
    if (!match) return [`${label}: no operation in the description matches (add its operationId to scripts/extract-github-openapi.ts)`];
    const problems = [
      ...this.validateRequest(match.operationId, match.params, url.searchParams, ex.requestBody),
      ...this.validateResponse(match.operationId, ex.status, ex.responseHeaders, ex.responseBody),
    ];
    return problems.map((p) => `${label} (${match.operationId}): ${p}`);
  }

  /** Validates a value against a named component schema (e.g. `pull-request`); empty when valid. */
  validateSchema(name: string, value: unknown): string[] {
    const fn = this.compile(`schema:${name}`, { $ref: `#/components/schemas/${name}` });
    return fn(value) ? [] : [`${name}: ${describeErrors(fn.errors)}`];
  }
}

const loaded = new Map<string, GitHubSpec>();

/** The description subset, parsed and compiled once per file per process. */
export function loadGitHubSpec(file: string = DEFAULT_SUBSET_FILE): GitHubSpec {
  let spec = loaded.get(file);
  if (!spec) {
    spec = new GitHubSpec(JSON.parse(readFileSync(file, 'utf8')) as JsonObject);
    loaded.set(file, spec);
  }
  return spec;
}

export const matchOperation = (method: string, path: string): OperationMatch | undefined => loadGitHubSpec().matchOperation(method, path);

export const validateExchange = (ex: Exchange): string[] => loadGitHubSpec().validateExchange(ex);

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * A `fetch` for Octokit's `request.fetch` that checks each exchange against the description and
 * reports problems through `onProblem` (the response itself is passed through untouched).
 */
export function validatingFetch(inner: typeof fetch | undefined, onProblem: (problem: string) => void, spec: GitHubSpec = loadGitHubSpec()): typeof fetch {
  const next = inner ?? globalThis.fetch;
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const method = init?.method ?? request?.method ?? 'GET';
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let bodyText: string | undefined;
    if (typeof init?.body === 'string') bodyText = init.body;
    else if (init?.body instanceof Uint8Array) bodyText = Buffer.from(init.body).toString('utf8');
    else if (request && request.body) bodyText = await request.clone().text();
    const response = await next(input, init);
    const text = response.status === 204 ? '' : await response.clone().text();
    const isJson = /\bjson\b/i.test(response.headers.get('content-type') ?? '');
    const problems = spec.validateExchange({
      method,
      url,
      requestBody: parseJson(bodyText),
      status: response.status,
      responseHeaders: response.headers,
      responseBody: isJson ? parseJson(text) : text === '' ? undefined : text,
    });
    for (const p of problems) onProblem(p);
    return response;
  };
}
