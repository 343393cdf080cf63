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
  readonly items: Readonly<Record<string, DriftRecordItem>>;
}

export interface DriftRecordItem {
  readonly firstSeen: string;
  /** The last run that saw it, to within DRIFT_LAST_SEEN_STEP_MS (a run per minute must not mean a state commit per minute). */
  readonly lastSeen?: string;
  /** Hash of the live value seen: a new value is new drift. */
  readonly live: string;
  /** Who changed it, from the gateway's config journal, when it says. */
  readonly who?: { readonly source: string; readonly kind: string; readonly at: string };
}

/** How stale a drift record's `lastSeen` may get before a run writes it again. */
export const DRIFT_LAST_SEEN_STEP_MS = 60 * 60 * 1000;

/**
 * A rollback pin (`clawops rollback`): while main still renders the target's desired state as it
 * was when the pin was set (`badDesired`), every plan renders it from the repo at `to` instead, so
 * the loop does not re-apply the bad revision. Main changing that state (the revert PR merged, a
 * fix landed) lifts it.
 */
export interface RollbackPin {
  readonly target: string;
  /** The fleet repo commit the target is held at. */
  readonly to: string;
  /** The fleet repo's HEAD when the pin was set. */
  readonly from: string;
  /** Hash of the target's effective desired state at `from` (reconciler/rollback/desired-hash.ts). */
  readonly badDesired: string;
  readonly by: string;
  readonly reason?: string;
  readonly at: string;
  /** The revert pull request that makes git agree. */
  readonly pr?: { readonly number: number; readonly url?: string };
}

/**
 * An agent taken out of service by `clawops kill` (reconciler/kill): exactly what it was, so
 * `clawops recover` puts it back byte for byte. While one exists, plan, apply and drift leave the
 * agent alone.
 */
export interface KillRecord {
  readonly target: string;
  readonly agentId: string;
  /** `Agent/<name>` when git declares the agent. */
  readonly resource?: string;
  readonly reason: string;
  readonly by: string;
  readonly killedAt: string;
  /** `config.get` hash the kill's write was guarded by. */
  readonly configHashBefore: string;
  readonly prior: {
    /** `agents.entries.<id>` as `config.get`'s sourceConfig had it (secrets as the gateway's redaction sentinel, which a write keeps). */
    readonly entry: JsonObject;
    /** Its routes, each with its position in the top-level `bindings`. */
    readonly bindings: ReadonlyArray<{ readonly index: number; readonly binding: JsonObject }>;
    /** Its cron jobs and whether each was enabled. */
    readonly cron: ReadonlyArray<{ readonly id: string; readonly name: string; readonly declarationKey?: string; readonly enabled: boolean }>;
  };
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
  /** The target's rollback pin, if one holds it. */
  pin(target: string): Promise<RollbackPin | undefined>;
  savePin(pin: RollbackPin): Promise<void>;
  deletePin(target: string): Promise<void>;
  killRecord(target: string, agentId: string): Promise<KillRecord | undefined>;
  /** Every kill record of `target`, by agent id. */
  killRecords(target: string): Promise<KillRecord[]>;
  /** Saved for good at once (its own commit on the state branch): the write that kills the agent comes next, and recover needs this. */
  saveKillRecord(record: KillRecord): Promise<void>;
  deleteKillRecord(target: string, agentId: string): Promise<void>;
  /** The key of the keyed hashes that stand for secret values in plans and state. */
  secretHashKey(): Promise<Buffer>;
}
