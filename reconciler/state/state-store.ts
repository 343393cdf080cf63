/**
 * Where clawops remembers what it did: per target, the desired state it last applied (which is
 * also what it owns: fields it never set are left alone), the live state just before each apply
 * (for rollback), and live snapshots with secrets removed (for offline plans). The planner and the
 * executor see only this interface; a local directory implements it now, the signed git state
 * branch later.
 */
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';

/** What clawops wrote for one agent: the fields it owns. */
export interface ManagedAgent {
  /** The agent's config as applied, `{ secretRef }` kept (never a value). */
  readonly config: JsonObject;
  /** Its routes as applied (with `agentId`). */
  readonly bindings: readonly JsonObject[];
  /** declarationKeys of its cron jobs. */
  readonly cron: readonly string[];
  /** Managed workspace file name → SHA-256 of the content written. */
  readonly files: Readonly<Record<string, string>>;
  /** Its exec-approval entry as applied, when an ApprovalRule covers it. */
  readonly exec?: JsonObject;
  /** Config path (dotted) of each secret → keyed hash of the value written. */
  readonly secretHashes: Readonly<Record<string, string>>;
  /** clawops created the agent (only such agents are ever pruned). */
  readonly created: boolean;
  /** The fleet repo commit this was applied from: where the approval check of its next changes starts. */
  readonly commit?: string;
  /** Its cron jobs as applied, by declarationKey (`cron.add` params, `{ secretRef }` kept): drift compares live jobs with these. */
  readonly cronJobs?: Readonly<Record<string, JsonObject>>;
}

export interface LastApplied {
  readonly target: string;
  readonly appliedAt: string;
  readonly commit?: string;
  readonly agents: Readonly<Record<string, ManagedAgent>>;
  /** The gateway's newest config-journal time (its clock, ms) right after clawops' last write: drift reads the journal from here. */
  readonly journalAt?: number;
}

/** The live state right before an apply: enough to put every managed document back. */
export interface PreApplySnapshot {
  readonly target: string;
  readonly takenAt: string;
  /** `config.get`'s `raw` (secrets redacted by the gateway; writing the sentinel back keeps them) and hash. */
  readonly config: { readonly raw: string; readonly hash: string; readonly agentIds: readonly string[] };
  readonly execApprovals: { readonly file: JsonObject; readonly hash: string };
  /** Managed cron jobs as they were (declarationKey `clawops:`). */
  readonly cron: readonly JsonObject[];
  /** `agentId/NAME` → content (absent: the file did not exist). */
  readonly files: Readonly<Record<string, string | null>>;
}

/** What clawops knows of a target's drift across runs: since when each field has drifted, and to what. */
export interface DriftRecord {
  readonly target: string;
  /** By drift item key (`agentId path`). */
  readonly items: Readonly<Record<string, { readonly firstSeen: string; /** Hash of the live value seen: a new value is new drift. */ readonly live: string }>>;
}

export interface StateStore {
  lastApplied(target: string): Promise<LastApplied | undefined>;
  saveLastApplied(state: LastApplied): Promise<void>;
  /** Returns the snapshot's id. */
  savePreApply(snapshot: PreApplySnapshot): Promise<string>;
  preApply(target: string, id: string): Promise<PreApplySnapshot | undefined>;
  /** The live config with secrets removed, for plans made without reaching the gateway. */
  saveLiveSnapshot(target: string, snapshot: JsonObject): Promise<void>;
  /** The latest live snapshot of `target`, if one was saved. */
  liveSnapshot(target: string): Promise<JsonObject | undefined>;
  driftRecord(target: string): Promise<DriftRecord | undefined>;
  saveDriftRecord(record: DriftRecord): Promise<void>;
  /** The key of the keyed hashes that stand for secret values in plans and state. */
  secretHashKey(): Promise<Buffer>;
}
