/**
 * The state store on the signed state branch (DESIGN §6): `state/last-applied/<target>.json`,
 * `state/pre-apply/<target>/<id>.json`, `state/live/<target>.json` and `state/drift/<target>.json`. Writes are staged and go
 * out with the run's one commit, except pre-apply snapshots: rollback depends on them, so each is
 * committed (and published) before the caller touches the gateway. The secret-hash key stays in
 * a local file, never in git.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import type { BufferedBranch } from '../git/buffered-branch.ts';
import { loadOrCreateSecretHashKey } from './secret-hash-key.ts';
import type { DriftRecord, LastApplied, PreApplySnapshot, StateStore } from './state-store.ts';

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

  secretHashKey(): Promise<Buffer> {
    return loadOrCreateSecretHashKey(this.keyDir);
  }

  private async read<T>(path: string): Promise<T | undefined> {
    const bytes = await this.branch.read(path);
    return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as T);
  }
}
