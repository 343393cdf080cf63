/**
 * Typed wrappers for the gateway methods clawops uses (research §3–7). Payload types name the
 * fields clawops reads; the gateway sends more, which stays reachable as `unknown`.
 *
 * Reads are re-sent after a reconnect. Writes are not: a write whose answer was lost may have
 * happened, and the hash guards would then report it as someone else's change. Callers re-read.
 */
import type { GatewayClient } from './client.ts';
import type { ConfigIssue } from './errors.ts';

export type JsonObject = Record<string, unknown>;

export interface ConfigSnapshot {
  readonly path: string;
  readonly exists: boolean;
  /** The authored config after includes, secrets redacted: what desired state is diffed against. */
  readonly sourceConfig: JsonObject;
  /** The `baseHash` for writes. */
  readonly hash: string;
  readonly configRevisionHash: string;
  /** ≠ configRevisionHash ⇒ a saved change waits for a restart. */
  readonly appliedConfigHash: string;
  readonly valid: boolean;
  readonly issues: readonly ConfigIssue[];
  readonly warnings: readonly unknown[];
  readonly includedPaths?: readonly string[];
  /** The root file's text, secrets redacted; `config.apply` with it restores the file exactly. */
  readonly raw?: string;
  readonly [key: string]: unknown;
}

export interface ConfigWriteResult {
  readonly ok: boolean;
  readonly hash: string;
  readonly changedPaths?: readonly string[];
  /** True when the gateway scheduled a restart to take the change (the socket will close 1012). */
  readonly requiresRestart: boolean;
  readonly config?: JsonObject;
}

export interface ConfigSchema {
  readonly schema: JsonObject;
  readonly uiHints?: JsonObject;
  readonly version: string;
  readonly generatedAt?: string;
}

export interface ConfigSchemaLookup {
  readonly path: string;
  readonly schema: JsonObject;
  readonly reloadKind?: 'restart' | 'hot' | 'none';
  readonly children: readonly { key: string; path: string; type?: string; required: boolean; hasChildren: boolean; reloadKind?: string }[];
}

export interface AgentSummary {
  readonly id: string;
  readonly name?: string;
  readonly workspace?: string;
  readonly model?: { primary?: string; fallbacks?: readonly string[] };
  readonly [key: string]: unknown;
}

export interface AgentsList {
  readonly defaultId: string;
  readonly ownership?: string;
  readonly agents: readonly AgentSummary[];
}

export interface AgentFileEntry {
  readonly name: string;
  readonly path: string;
  readonly missing: boolean;
  readonly size?: number;
  readonly updatedAtMs?: number;
  /** SHA-256 hex of the bytes on disk (`agents.files.get`/`set`). */
  readonly hash?: string;
  readonly content?: string;
}

export interface ExecApprovalsSnapshot {
  readonly file: ExecApprovalsFile;
  /** The `baseHash` for `exec.approvals.set`. */
  readonly hash: string;
  readonly exists: boolean;
  readonly resolvedDefaults?: JsonObject;
}

export interface ExecApprovalsFile {
  readonly version: 1;
  readonly defaults?: JsonObject;
  readonly agents?: Readonly<Record<string, JsonObject>>;
  readonly [key: string]: unknown;
}

export interface CronJob {
  readonly id: string;
  readonly name: string;
  readonly declarationKey?: string;
  readonly agentId?: string;
  readonly enabled: boolean;
  readonly schedule: JsonObject;
  readonly payload?: JsonObject;
  readonly [key: string]: unknown;
}

export interface ChangeJournalEntry {
  readonly id: string;
  readonly at: number;
  readonly kind: 'operation' | 'config-write' | 'external-edit' | string;
  readonly source: string;
  readonly summary: string;
  readonly changedPaths: readonly string[];
}

export interface ConfigChangedEvent {
  readonly path: string;
  readonly hash: string;
  readonly ts: number;
}

export interface UsageTotals {
  readonly totalTokens: number;
  readonly totalCost: number;
  readonly missingCostEntries: number;
  readonly [key: string]: unknown;
}

export interface UsageCost {
  readonly updatedAt: number;
  readonly daily: readonly (UsageTotals & { date: string })[];
  readonly totals: UsageTotals;
  readonly cacheStatus?: { status: string; [key: string]: unknown };
}

const read = { retryOnReconnect: true } as const;

/** The roster of a config snapshot: `agents.entries`, id → entry (empty when there is none). */
export function agentEntries(config: Pick<ConfigSnapshot, 'sourceConfig'>): Record<string, JsonObject> {
  const agents = config.sourceConfig.agents;
  const entries = agents && typeof agents === 'object' ? (agents as { entries?: unknown }).entries : undefined;
  return entries && typeof entries === 'object' && !Array.isArray(entries) ? (entries as Record<string, JsonObject>) : {};
}

export class OpenClawGateway {
  readonly client: GatewayClient;

  constructor(client: GatewayClient) {
    this.client = client;
  }

  get version(): string {
    return this.client.hello.server.version;
  }

  configGet(): Promise<ConfigSnapshot> {
    return this.client.request('config.get', {}, read);
  }

  /** The full JSON Schema (~2 MB): fetched once per gateway build (see ConfigSchemaCache). */
  configSchema(): Promise<ConfigSchema> {
    return this.client.request('config.schema', {}, { ...read, timeoutMs: 60_000 });
  }

  configSchemaLookup(path: string): Promise<ConfigSchemaLookup> {
    return this.client.request('config.schema.lookup', { path }, read);
  }

  /**
   * RFC 7396 merge patch guarded by `baseHash`. Objects merge, `null` deletes; an array that loses
   * entries must be named in `replacePaths` or the gateway refuses the write.
   */
  async configPatch(args: { patch: JsonObject; baseHash: string; replacePaths?: readonly string[]; note?: string }): Promise<ConfigWriteResult> {
    const params: JsonObject = { raw: JSON.stringify(args.patch), baseHash: args.baseHash };
    if (args.replacePaths?.length) params.replacePaths = args.replacePaths;
    if (args.note) params.note = args.note;
    return writeResult(await this.client.request('config.patch', params));
  }

  /**
   * Replaces the whole config, given as an object or as the exact text (`config.get`'s `raw`, whose
   * redacted secrets the gateway keeps). It refuses a document that drops agents: `agentsDelete` first.
   */
  async configApply(args: ({ config: JsonObject } | { raw: string }) & { baseHash: string; note?: string }): Promise<ConfigWriteResult> {
    const params: JsonObject = { raw: 'raw' in args ? args.raw : JSON.stringify(args.config), baseHash: args.baseHash };
    if (args.note) params.note = args.note;
    return writeResult(await this.client.request('config.apply', params));
  }

  agentsList(): Promise<AgentsList> {
    return this.client.request('agents.list', {}, read);
  }

  /** The only way to remove an agent: a `null` patch or an apply without it is refused. */
  agentsDelete(agentId: string, opts: { deleteFiles?: boolean } = {}): Promise<{ ok: boolean; removedBindings?: number }> {
    return this.client.request('agents.delete', { agentId, ...(opts.deleteFiles !== undefined ? { deleteFiles: opts.deleteFiles } : {}) });
  }

  async agentFilesList(agentId: string): Promise<readonly AgentFileEntry[]> {
    const r = await this.client.request<{ files: AgentFileEntry[] }>('agents.files.list', { agentId }, read);
    return r.files;
  }

  async agentFileGet(agentId: string, name: string): Promise<AgentFileEntry> {
    const r = await this.client.request<{ file: AgentFileEntry }>('agents.files.get', { agentId, name }, read);
    return r.file;
  }

  /** `expectedHash` (SHA-256 hex of the current bytes) makes the write refuse a concurrent change. */
  async agentFileSet(args: { agentId: string; name: string; content: string; expectedHash?: string }): Promise<AgentFileEntry> {
    const r = await this.client.request<{ file: AgentFileEntry }>('agents.files.set', { ...args });
    return r.file;
  }

  execApprovalsGet(): Promise<ExecApprovalsSnapshot> {
    return this.client.request('exec.approvals.get', {}, read);
  }

  execApprovalsSet(args: { file: ExecApprovalsFile; baseHash: string }): Promise<ExecApprovalsSnapshot> {
    return this.client.request('exec.approvals.set', { file: args.file, baseHash: args.baseHash });
  }

  /** Every job, disabled ones too; `cron.list` pages (at most 200 per call). */
  async cronList(): Promise<readonly CronJob[]> {
    const jobs: CronJob[] = [];
    for (let offset = 0; ; ) {
      const r = await this.client.request<{ jobs: CronJob[]; hasMore?: boolean; nextOffset?: number | null }>(
        'cron.list',
        { includeDisabled: true, limit: 200, offset },
        read,
      );
      jobs.push(...r.jobs);
      if (!r.hasMore || typeof r.nextOffset !== 'number' || r.nextOffset <= offset) return jobs;
      offset = r.nextOffset;
    }
  }

  /** Upsert by `declarationKey`: repeating it is harmless, so it is re-sent after a reconnect. */
  cronAdd(job: JsonObject & { declarationKey: string }): Promise<{ created: boolean; updated?: boolean; job: CronJob }> {
    return this.client.request('cron.add', job, read);
  }

  cronUpdate(id: string, patch: JsonObject): Promise<{ job?: CronJob; [key: string]: unknown }> {
    return this.client.request('cron.update', { id, patch });
  }

  cronRemove(id: string): Promise<{ ok: boolean; removed: boolean }> {
    return this.client.request('cron.remove', { id });
  }

  usageCost(params: JsonObject = {}): Promise<UsageCost> {
    return this.client.request('usage.cost', params, read);
  }

  sessionsUsage(params: JsonObject = {}): Promise<JsonObject> {
    return this.client.request('sessions.usage', params, read);
  }

  /** The gateway's config journal: who changed which paths, newest first (research §5). */
  changesList(args: { limit?: number; beforeCursor?: string } = {}): Promise<{ entries: readonly ChangeJournalEntry[]; nextCursor?: string }> {
    return this.client.request('openclaw.changes.list', { limit: args.limit ?? 50, ...(args.beforeCursor ? { beforeCursor: args.beforeCursor } : {}) }, read);
  }

  health(): Promise<JsonObject & { ok: boolean }> {
    return this.client.request('health', {}, read);
  }

  status(): Promise<JsonObject & { runtimeVersion: string }> {
    return this.client.request('status', {}, read);
  }

  identity(): Promise<{ deviceId: string; publicKey: string }> {
    return this.client.request('gateway.identity.get', {}, read);
  }

  /** `config.changed` is sent but not advertised in hello-ok, so it is subscribed to unconditionally. */
  onConfigChanged(handler: (event: ConfigChangedEvent) => void): () => void {
    return this.client.on('config.changed', (payload) => handler(payload as ConfigChangedEvent));
  }
}

function writeResult(payload: unknown): ConfigWriteResult {
  const p = payload as JsonObject & { sentinel?: { payload?: { stats?: { requiresRestart?: boolean } } } };
  return { ...(p as unknown as ConfigWriteResult), requiresRestart: p.sentinel?.payload?.stats?.requiresRestart === true };
}
