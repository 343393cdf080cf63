/**
 * Everything one simulated gateway remembers: its config with hashes, the change journal, agent
 * files, the exec-approval document, cron jobs, issued device tokens and write-rate windows.
 * Kept deliberately small (plain objects, created on first use) so a thousand fit in one process;
 * it outlives restarts, like the real gateway's state dir.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { lookupSchema, schemaDocument, validateConfig } from './config-schema.ts';
import { canonicalJson, isPlainObject, type Json, type JsonRecord } from './json.ts';
import { changedPaths, mergePatch } from './merge-patch.ts';
import { redact, restoreRedacted } from './secrets.ts';
import {
  agentFileConflict,
  arraysWouldShrink,
  invalidConfig,
  invalidRequest,
  rateLimited,
  rosterWouldDrop,
  staleConfigHash,
  staleExecApprovalsHash,
} from './sim-errors.ts';

/** One key per process: hashes are opaque to clients, only equality matters. */
const HASH_KEY = randomBytes(32);
const RATE_LIMIT = 30;
const RATE_WINDOW_MS = 60_000;
/** Paths the real gateway can only take by restarting (research §3.5). */
const RESTART_PREFIXES = ['gateway.', 'discovery.', 'approvals.'];
export const AGENT_FILE_NAMES = ['AGENTS.md', 'SOUL.md', 'TOOLS.md', 'IDENTITY.md', 'USER.md', 'HEARTBEAT.md', 'BOOTSTRAP.md', 'MEMORY.md'];

export interface JournalEntry {
  readonly id: string;
  readonly at: number;
  readonly kind: string;
  readonly source: string;
  readonly summary: string;
  readonly changedPaths: readonly string[];
}

interface AgentFile {
  content: string;
  hash: string;
  updatedAtMs: number;
}

type CronJobRecord = JsonRecord & { id: string; declarationKey?: string; enabled: boolean };

export interface SimGatewayInit {
  readonly id: string;
  readonly token: string;
  readonly version: string;
  readonly initialConfig?: JsonRecord;
  readonly journalLimit: number;
  /** Sends an event to this gateway's sessions that hold `operator.read`. */
  readonly broadcast: (event: string, payload: Json) => void;
  /** Asks the server to restart this gateway (a write to a restart-only path). */
  readonly scheduleRestart: (reason: string) => void;
}

export class SimGatewayState {
  readonly id: string;
  readonly version: string;
  readonly stateDir: string;
  readonly configPath: string;
  bootId = randomUUID();
  startedAt = Date.now();
  private config: JsonRecord;
  private configHash: string;
  private appliedHash: string;
  private journal: JournalEntry[] = [];
  private journalSeq = 0;
  private readonly journalLimit: number;
  private files: Map<string, AgentFile> | undefined;
  private approvals: { file: JsonRecord; hash: string } | undefined;
  private cron: CronJobRecord[] | undefined;
  private deviceTokens: Map<string, string> | undefined;
  private rate: Map<string, number[]> | undefined;
  private readonly broadcast: SimGatewayInit['broadcast'];
  private readonly requestRestart: SimGatewayInit['scheduleRestart'];

  constructor(init: SimGatewayInit) {
    this.id = init.id;
    this.version = init.version;
    this.stateDir = `/var/lib/openclaw-sim/${init.id}`;
    this.configPath = `${this.stateDir}/openclaw.json`;
    this.journalLimit = init.journalLimit;
    this.broadcast = init.broadcast;
    this.requestRestart = init.scheduleRestart;
    const base: JsonRecord = init.initialConfig ?? { agents: { entries: { main: {} } } };
    const gateway = isPlainObject(base.gateway) ? base.gateway : {};
    this.config = { ...base, gateway: { mode: 'local', ...gateway, auth: { mode: 'token', token: init.token } } };
    this.configHash = this.appliedHash = hashConfig(this.config);
  }

  /** The shared token lives in the config, so a write that clobbered it would lock clients out. */
  get sharedToken(): string {
    const gw = this.config.gateway;
    const auth = isPlainObject(gw) && isPlainObject(gw.auth) ? gw.auth : {};
    return typeof auth.token === 'string' ? auth.token : '';
  }

  get appliedConfigHash(): string {
    return this.appliedHash;
  }

  /** A restart takes whatever revision is saved. */
  restarted(): void {
    this.bootId = randomUUID();
    this.startedAt = Date.now();
    this.appliedHash = this.configHash;
  }

  // --- devices and rate limits --------------------------------------------------------------

  deviceTokenFor(deviceId: string): string {
    this.deviceTokens ??= new Map();
    let t = this.deviceTokens.get(deviceId);
    if (!t) this.deviceTokens.set(deviceId, (t = randomBytes(24).toString('base64url')));
    return t;
  }

  issuedDeviceToken(deviceId: string): string | undefined {
    return this.deviceTokens?.get(deviceId);
  }

  /** 30 writes per method per device in any 60 s (research §3.6); every attempt counts. */
  chargeWrite(method: string, deviceKey: string, now = Date.now()): void {
    this.rate ??= new Map();
    const key = `${deviceKey}\u0000${method}`;
    const recent = (this.rate.get(key) ?? []).filter((t) => t > now - RATE_WINDOW_MS);
    if (recent.length >= RATE_LIMIT) {
      this.rate.set(key, recent);
      throw rateLimited(method, Math.max(1, (recent[0] ?? now) + RATE_WINDOW_MS - now));
    }
    recent.push(now);
    this.rate.set(key, recent);
  }

  // --- config -------------------------------------------------------------------------------

  configGet(): JsonRecord {
    const source = redact(this.config) as JsonRecord;
    return {
      path: this.configPath,
      exists: true,
      raw: `${JSON.stringify(source, null, 2)}\n`,
      parsed: source,
      sourceConfig: source,
      resolved: source,
      config: source,
      runtimeConfig: source,
      hash: this.configHash,
      configRevisionHash: this.configHash,
      appliedConfigHash: this.appliedHash,
      valid: true,
      issues: [],
      warnings: [],
      legacyIssues: [],
      includedPaths: [],
    };
  }

  configSchema(): JsonRecord {
    return { schema: schemaDocument(), uiHints: {}, version: this.version, generatedAt: new Date(this.startedAt).toISOString() };
  }

  configSchemaLookup(path: string): JsonRecord {
    const found = lookupSchema(path);
    if (!found) throw invalidRequest('config schema path not found');
    return found as unknown as JsonRecord;
  }

  configPatch(params: JsonRecord): JsonRecord {
    const patch = parseRaw('config.patch', params.raw);
    const replacePaths = Array.isArray(params.replacePaths) ? params.replacePaths.filter((p): p is string => typeof p === 'string') : [];
    const incoming = restoreRedacted(patch, this.config) as JsonRecord;
    const { doc, shrunk } = mergePatch(this.config, incoming, replacePaths);
    this.refuseRosterDrop(doc);
    if (shrunk.length) throw arraysWouldShrink(shrunk);
    return this.commit('config.patch', doc, params.baseHash);
  }

  /** `config.apply` and `config.set`: the whole document, sentinels standing for the stored secrets. */
  configReplace(method: 'config.apply' | 'config.set', params: JsonRecord): JsonRecord {
    const doc = restoreRedacted(parseRaw(method, params.raw), this.config) as JsonRecord;
    this.refuseRosterDrop(doc);
    return this.commit(method, doc, params.baseHash);
  }

  /**
   * A hand edit of openclaw.json (drift): no guard, journalled as `external-edit`, announced with
   * `config.changed` and hot-applied, as the real gateway's file watcher does (research §5).
   */
  editExternally(patch: JsonRecord): readonly string[] {
    const { doc } = mergePatch(this.config, patch, collectPaths(patch));
    const paths = changedPaths(this.config, doc);
    if (paths.length) this.store(doc, { kind: 'external-edit', source: 'external', changedPaths: paths }, true);
    return paths;
  }

  private refuseRosterDrop(doc: JsonRecord): void {
    const after = agentIds(doc);
    const dropped = agentIds(this.config).filter((id) => !after.includes(id));
    if (dropped.length) throw rosterWouldDrop(dropped);
  }

  /** Validation first, then the hash guard (the gateway's order, research §3.3). */
  private commit(method: string, doc: JsonRecord, baseHash: unknown): JsonRecord {
    const issues = validateConfig(doc);
    if (issues.length) throw invalidConfig(issues);
    const paths = changedPaths(this.config, doc);
    if (typeof baseHash !== 'string' || !baseHash) {
      throw invalidRequest(`config base hash required for ${paths[0] ?? '<root>'}; re-run config.get and retry with baseHash`);
    }
    if (baseHash !== this.configHash) throw staleConfigHash();
    const requiresRestart = method !== 'config.set' && paths.some((p) => RESTART_PREFIXES.some((r) => `${p}.`.startsWith(r)));
    // config.set is applied by the file watcher (hybrid reload mode); restart paths wait for the restart.
    if (paths.length) this.store(doc, { kind: 'config-write', source: 'config-rpc', changedPaths: paths }, !requiresRestart);
    if (requiresRestart) this.requestRestart(`config change requires restart (${paths.join(', ')})`);
    const result: JsonRecord = { ok: true, path: this.configPath, hash: this.configHash, config: redact(this.config), changedPaths: paths };
    if (method === 'config.set') return result;
    result.sentinel = {
      persisted: true,
      payload: { kind: method.replace('.', '-'), status: 'ok', ts: Date.now(), message: null, stats: { mode: method, root: this.configPath, requiresRestart } },
    };
    return result;
  }

  private store(doc: JsonRecord, entry: { kind: string; source: string; changedPaths: string[] }, apply: boolean): void {
    this.config = doc;
    this.configHash = hashConfig(doc);
    if (apply) this.appliedHash = this.configHash;
    this.record(entry.kind, entry.source, entry.changedPaths);
    this.broadcast('config.changed', { path: this.configPath, hash: this.configHash, ts: Date.now() });
  }

  private record(kind: string, source: string, paths: string[]): void {
    this.journal.push({
      id: `config-audit:${++this.journalSeq}`,
      at: Date.now(),
      kind,
      source,
      summary: `${SUMMARY[source] ?? 'Updated configuration:'} ${paths.join(', ')}`,
      changedPaths: paths,
    });
    if (this.journal.length > this.journalLimit) this.journal.splice(0, this.journal.length - this.journalLimit);
  }

  changesList(params: JsonRecord): JsonRecord {
    const limit = Math.min(200, Math.max(1, typeof params.limit === 'number' ? params.limit : 50));
    const before = typeof params.beforeCursor === 'string' ? Number(params.beforeCursor.replace(/^config-audit:/, '')) : Infinity;
    const older = this.journal.filter((e) => Number(e.id.slice('config-audit:'.length)) < before).reverse();
    const page = older.slice(0, limit);
    const last = page[page.length - 1];
    return { entries: page as unknown as Json[], ...(older.length > limit && last ? { nextCursor: last.id } : {}) };
  }

  // --- agents ------------------------------------------------------------------------------

  agentsList(): JsonRecord {
    const agents = isPlainObject(this.config.agents) ? this.config.agents : {};
    const entries = isPlainObject(agents.entries) ? agents.entries : {};
    return {
      defaultId: 'main',
      ownership: agents.ownership === 'explicit' ? 'explicit' : 'sole',
      mainKey: 'main',
      scope: 'per-sender',
      agents: Object.entries(entries).map(([id, e]) => {
        const entry = isPlainObject(e) ? e : {};
        const model = entry.model;
        return {
          id,
          kind: 'agent',
          ...(typeof entry.name === 'string' ? { name: entry.name } : {}),
          workspace: typeof entry.workspace === 'string' ? entry.workspace : this.workspaceOf(id),
          model: typeof model === 'string' ? { primary: model } : isPlainObject(model) ? model : {},
        };
      }),
    };
  }

  agentsDelete(params: JsonRecord): JsonRecord {
    const id = this.knownAgent(params.agentId);
    if (id === 'main') throw invalidRequest(`Agent "main" owns the legacy shared auth store and cannot be deleted`);
    const agents = { ...(this.config.agents as JsonRecord) };
    const entries = { ...(agents.entries as JsonRecord) };
    delete entries[id];
    agents.entries = entries;
    if (Object.keys(entries).length <= 1) delete agents.ownership;
    const bindings = Array.isArray(this.config.bindings) ? this.config.bindings : undefined;
    const kept = bindings?.filter((b) => !(isPlainObject(b) && b.agentId === id));
    const doc: JsonRecord = { ...this.config, agents };
    if (kept) doc.bindings = kept;
    this.store(doc, { kind: 'operation', source: 'unknown', changedPaths: changedPaths(this.config, doc) }, true);
    if (params.deleteFiles === true && this.files) for (const key of [...this.files.keys()]) if (key.startsWith(`${id}/`)) this.files.delete(key);
    return { ok: true, agentId: id, removedBindings: (bindings?.length ?? 0) - (kept?.length ?? 0), removed: [], failed: [] };
  }

  agentFilesList(params: JsonRecord): JsonRecord {
    const id = this.knownAgent(params.agentId);
    return { agentId: id, workspace: this.workspaceOf(id), files: AGENT_FILE_NAMES.map((name) => this.fileEntry(id, name, false)) };
  }

  agentFileGet(params: JsonRecord): JsonRecord {
    const id = this.knownAgent(params.agentId);
    return { agentId: id, workspace: this.workspaceOf(id), file: this.fileEntry(id, fileName(params.name), true) };
  }

  agentFileSet(params: JsonRecord): JsonRecord {
    const id = this.knownAgent(params.agentId);
    const name = fileName(params.name);
    if (typeof params.content !== 'string') throw invalidRequest('invalid agents.files.set params: at /content: must be string');
    const current = this.files?.get(`${id}/${name}`);
    if (typeof params.expectedHash === 'string' && params.expectedHash !== current?.hash) {
      throw agentFileConflict(id, name, params.expectedHash, current?.hash ?? null);
    }
    this.files ??= new Map();
    this.files.set(`${id}/${name}`, { content: params.content, hash: sha256(params.content), updatedAtMs: Date.now() });
    return { ok: true, agentId: id, workspace: this.workspaceOf(id), file: this.fileEntry(id, name, true) };
  }

  private fileEntry(id: string, name: string, withContent: boolean): JsonRecord {
    const f = this.files?.get(`${id}/${name}`);
    const path = `${this.workspaceOf(id)}/${name}`;
    if (!f) return { name, path, missing: true };
    return { name, path, missing: false, size: Buffer.byteLength(f.content), updatedAtMs: f.updatedAtMs, hash: f.hash, ...(withContent ? { content: f.content } : {}) };
  }

  private knownAgent(agentId: unknown): string {
    if (typeof agentId !== 'string' || !agentIds(this.config).includes(agentId)) throw invalidRequest(`agent "${String(agentId)}" not found`);
    return agentId;
  }

  private workspaceOf(id: string): string {
    return id === 'main' ? `${this.stateDir}/workspace` : `${this.stateDir}/workspace-${id}`;
  }

  // --- exec approvals ----------------------------------------------------------------------

  execApprovalsGet(): JsonRecord {
    const a = this.execApprovals();
    return {
      path: `${this.stateDir}/openclaw.sqlite#exec_approvals_config`,
      exists: true,
      file: a.file,
      hash: a.hash,
      resolvedDefaults: { security: 'full', ask: 'off', askFallback: 'deny', autoAllowSkills: false },
    };
  }

  execApprovalsSet(params: JsonRecord): JsonRecord {
    if (!isPlainObject(params.file) || params.file.version !== 1) throw invalidRequest('invalid exec.approvals.set params: at /file/version: must be equal to constant');
    if (typeof params.baseHash !== 'string') throw invalidRequest('exec approvals base hash required; re-run exec.approvals.get and retry with baseHash');
    if (params.baseHash !== this.execApprovals().hash) throw staleExecApprovalsHash();
    const file = withAllowlistIds(params.file);
    this.approvals = { file, hash: sha256(canonicalJson(file)) };
    return this.execApprovalsGet();
  }

  private execApprovals(): { file: JsonRecord; hash: string } {
    if (!this.approvals) {
      const file: JsonRecord = { version: 1, socket: { path: `${this.stateDir}/exec-approvals.sock` }, defaults: {}, agents: {} };
      this.approvals = { file, hash: sha256(canonicalJson(file)) };
    }
    return this.approvals;
  }

  // --- cron --------------------------------------------------------------------------------

  cronList(params: JsonRecord): JsonRecord {
    const all = (this.cron ?? []).filter((j) => params.includeDisabled === true || j.enabled);
    const offset = typeof params.offset === 'number' ? params.offset : 0;
    const limit = Math.min(200, typeof params.limit === 'number' ? params.limit : 200);
    const jobs = all.slice(offset, offset + limit);
    const hasMore = offset + jobs.length < all.length;
    return { jobs, total: all.length, offset, limit, hasMore, nextOffset: hasMore ? offset + jobs.length : null };
  }

  cronGet(params: JsonRecord): JsonRecord {
    return this.job(params.id);
  }

  /** An existing `declarationKey` makes `cron.add` an update (declarative upsert, research §4.4). */
  cronAdd(params: JsonRecord): JsonRecord {
    for (const k of ['name', 'schedule', 'payload']) if (params[k] === undefined) throw invalidRequest(`invalid cron.add params: must have required property '${k}'`);
    const now = Date.now();
    const fields = { ...params };
    delete fields.idempotencyKey;
    this.cron ??= [];
    const existing = typeof params.declarationKey === 'string' ? this.cron.find((j) => j.declarationKey === params.declarationKey) : undefined;
    if (existing) {
      Object.assign(existing, fields, { id: existing.id, updatedAtMs: now });
      this.broadcast('cron', { jobId: existing.id, action: 'updated', job: existing });
      return { created: false, updated: true, job: existing };
    }
    const job = { enabled: true, ...fields, id: randomUUID(), createdAtMs: now, updatedAtMs: now, state: {} } as CronJobRecord;
    this.cron.push(job);
    this.broadcast('cron', { jobId: job.id, action: 'added', job });
    return { created: true, job };
  }

  cronUpdate(params: JsonRecord): JsonRecord {
    const job = this.job(params.id);
    if (!isPlainObject(params.patch)) throw invalidRequest('invalid cron.update params: at /patch: must be object');
    const { doc } = mergePatch(job, params.patch, Object.keys(params.patch));
    Object.assign(job, doc, { id: job.id, updatedAtMs: Date.now() });
    this.broadcast('cron', { jobId: job.id, action: 'updated', job });
    return { ok: true, job };
  }

  cronRemove(params: JsonRecord): JsonRecord {
    const i = (this.cron ?? []).findIndex((j) => j.id === params.id);
    if (i < 0) return { ok: true, removed: false };
    this.cron?.splice(i, 1);
    this.broadcast('cron', { jobId: String(params.id), action: 'removed' });
    return { ok: true, removed: true };
  }

  private job(id: unknown): CronJobRecord {
    const job = this.cron?.find((j) => j.id === id);
    if (!job) throw invalidRequest(`unknown cron job id: ${String(id)}`);
    return job;
  }
}

const SUMMARY: Readonly<Record<string, string>> = {
  'config-rpc': 'Settings updated configuration:',
  external: 'Configuration edited outside OpenClaw:',
  unknown: 'Agents RPC updated configuration:',
};

/** Every path in a patch, so a hand edit may replace arrays wholesale. */
function collectPaths(v: JsonRecord, prefix = '', into: string[] = []): string[] {
  for (const [k, x] of Object.entries(v)) {
    const path = prefix ? `${prefix}.${k}` : k;
    into.push(path);
    if (isPlainObject(x)) collectPaths(x, path, into);
  }
  return into;
}

function agentIds(doc: JsonRecord): string[] {
  const agents = doc.agents;
  const entries = isPlainObject(agents) && isPlainObject(agents.entries) ? agents.entries : {};
  return Object.keys(entries);
}

function hashConfig(doc: JsonRecord): string {
  return `hmac-sha256:v1:${createHmac('sha256', HASH_KEY).update(canonicalJson(doc)).digest('base64url')}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `raw` is JSON text, as clawops sends it (the real gateway also takes JSON5). */
function parseRaw(method: string, raw: unknown): JsonRecord {
  if (typeof raw !== 'string') throw invalidRequest(`invalid ${method} params: at /raw: must be string`);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw invalidRequest(`SyntaxError: JSON5: ${(e as Error).message}`);
  }
  if (!isPlainObject(v)) throw invalidRequest(`invalid ${method} params: raw must hold an object`);
  return v;
}

function fileName(name: unknown): string {
  if (typeof name !== 'string' || !AGENT_FILE_NAMES.includes(name)) throw invalidRequest(`unsupported file "${String(name)}"`);
  return name;
}

/** The gateway gives every allowlist entry an id. */
function withAllowlistIds(file: JsonRecord): JsonRecord {
  const agents = isPlainObject(file.agents) ? file.agents : undefined;
  if (!agents) return file;
  const out: JsonRecord = {};
  for (const [id, a] of Object.entries(agents)) {
    out[id] =
      isPlainObject(a) && Array.isArray(a.allowlist)
        ? { ...a, allowlist: a.allowlist.map((e) => (isPlainObject(e) && typeof e.id !== 'string' ? { ...e, id: randomUUID() } : e)) }
        : a;
  }
  return { ...file, agents: out };
}
