/**
 * The state store on the signed state branch (DESIGN §6): `state/last-applied/<target>.json`,
 * `state/pre-apply/<target>/<id>.json`, `state/live/<target>.json`, `state/drift/<target>.json`, `state/pins/<target>.json` and `state/kills/<target>/<agent>.json`. Writes are staged and go
 * out with the run's one commit, except pre-apply snapshots: rollback depends on them, so each is
 * committed (and published) before the caller touches the gateway, and so are kill records. The secret-hash key stays in
 * a local file, never in git.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import type { BufferedBranch } from '../git/buffered-branch.ts';
import { loadOrCreateSecretHashKey } from './secret-hash-key.ts';
import type { DriftRecord, KillRecord, LastApplied, PreApplySnapshot, RollbackPin, StateStore } from './state-store.ts';

/** A target name as one path segment. */
const safe = (target: string): string => target.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.*$/, (dots) => `_${dots}`);

/** JSON with object keys sorted at every level, indented, newline at the end: equal values give equal bytes (and equal blobs). */
export function stableJson(value: unknown): string {
  const sorted = (_key: string, v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v;
  return `${JSON.stringify(value, sorted, 2)}\n`;
}

export const lastAppliedPath = (target: string): string => `state/last-applied/${safe(target)}.json`;
export const preApplyPath = (target: string, id: string): string => `state/pre-apply/${safe(target)}/${safe(id)}.json`;
export const livePath = (target: string): string => `state/live/${safe(target)}.json`;
export const driftPath = (target: string): string => `state/drift/${safe(target)}.json`;
export const pinPath = (target: string): string => `state/pins/${safe(target)}.json`;
export const killPath = (target: string, agentId: string): string => `state/kills/${safe(target)}/${safe(agentId)}.json`;

export interface GitBranchStateStoreOptions {
  readonly branch: BufferedBranch;
  /** Local directory of the secret-hash key (e.g. `<repo>/.clawops/state`), shared with the local-directory store. */
  readonly keyDir: string;
}

export class GitBranchStateStore implements StateStore {
  readonly branch: BufferedBranch;
  private readonly keyDir: string;

  constructor(opts: GitBranchStateStoreOptions) {
    this.branch = opts.branch;
    this.keyDir = opts.keyDir;
  }

  lastApplied(target: string): Promise<LastApplied | undefined> {
    return this.read<LastApplied>(lastAppliedPath(target));
  }

  async saveLastApplied(state: LastApplied): Promise<void> {
    this.branch.stage(lastAppliedPath(state.target), stableJson(state));
  }

  async savePreApply(snapshot: PreApplySnapshot): Promise<string> {
    const id = `${snapshot.takenAt.replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
    const path = preApplyPath(snapshot.target, id);
    const content = Buffer.from(stableJson(snapshot), 'utf8');
    // Its own commit, now: the caller writes to the gateway next, and a rollback needs this.
    await this.branch.branch.update(async () => ({
      files: new Map([[path, content]]),
      message: `state: pre-apply snapshot of ${snapshot.target} (${id})\n\nSaved before clawops writes to ${snapshot.target}, so the write can be rolled back.\n`,
    }));
    return id;
  }

  preApply(target: string, id: string): Promise<PreApplySnapshot | undefined> {
    return this.read<PreApplySnapshot>(preApplyPath(target, id));
  }

  async saveLiveSnapshot(target: string, snapshot: JsonObject): Promise<void> {
    this.branch.stage(livePath(target), stableJson(snapshot));
  }

  liveSnapshot(target: string): Promise<JsonObject | undefined> {
    return this.read<JsonObject>(livePath(target));
  }

  driftRecord(target: string): Promise<DriftRecord | undefined> {
    return this.read<DriftRecord>(driftPath(target));
  }

  async saveDriftRecord(record: DriftRecord): Promise<void> {
    this.branch.stage(driftPath(record.target), stableJson(record));
  }

  pin(target: string): Promise<RollbackPin | undefined> {
    return this.read<RollbackPin>(pinPath(target));
  }

  async savePin(pin: RollbackPin): Promise<void> {
    this.branch.stage(pinPath(pin.target), stableJson(pin));
  }

  async deletePin(target: string): Promise<void> {
    this.branch.stage(pinPath(target), null);
  }

  killRecord(target: string, agentId: string): Promise<KillRecord | undefined> {
    return this.read<KillRecord>(killPath(target, agentId));
  }

  async killRecords(target: string): Promise<KillRecord[]> {
    const names = await this.branch.list(`state/kills/${safe(target)}`);
    const records = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => this.read<KillRecord>(`state/kills/${safe(target)}/${n}`)));
    return records.filter((r): r is KillRecord => r !== undefined);
  }

  async saveKillRecord(record: KillRecord): Promise<void> {
    // Its own commit, now, like a pre-apply snapshot: the kill's write comes next, and recover needs this.
    await this.branch.branch.update(async () => ({
      files: new Map([[killPath(record.target, record.agentId), Buffer.from(stableJson(record), 'utf8')]]),
      message: `state: kill record of ${record.agentId} on ${record.target}\n\nSaved before clawops takes the agent out of service, so \`clawops recover\` can put it back exactly.\n`,
    }));
  }

  async deleteKillRecord(target: string, agentId: string): Promise<void> {
    this.branch.stage(killPath(target, agentId), null);
  }

  secretHashKey(): Promise<Buffer> {
    return loadOrCreateSecretHashKey(this.keyDir);
  }

  private async read<T>(path: string): Promise<T | undefined> {
    const bytes = await this.branch.read(path);
    return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as T);
  }
}
