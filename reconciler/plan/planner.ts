/**
 * The planner: desired vs live for one gateway → the changes (what, how risky, which YAML caused
 * it) and the operations that make them (one config patch, exec approvals, cron upserts, file
 * writes, agent deletions). json-diff-ts finds what differs between the two projected documents
 * (agent-docs.ts), matching agents by id, routes by what they match, cron jobs by declarationKey,
 * files by name and allowlist entries by pattern; the values shown come from the documents.
 */
import { diff, type IChange } from 'json-diff-ts';
import { agentEntries, type JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import type { DesiredAgent, DesiredGateway } from '../desired/effective-state.ts';
import type { LoadedOf } from '../load/resource.ts';
import type { LastApplied } from '../state/state-store.ts';
import { bindingKey, buildDocs, cronDigest, EMBEDDED_KEYS, type AgentDoc, type ManagedAgentView } from './agent-docs.ts';
import { categoryOf, type Section } from './classify.ts';
import { activeExceptions } from '../policy/exceptions.ts';
import { compileRuleSet } from '../policy/rule-set.ts';
import { PolicyEngine } from '../policy/verdict.ts';
import { arrayPaths, deepEqual, getPath, isObject, pathKey, setPath } from './json-paths.ts';
import type { Action, Change, GatewayOperations, GatewayPlan, PlanNote, SourceLocation } from './plan.ts';
import { fileKey, type LiveGateway } from './read-live.ts';
import { killedNote, splitKilled, withoutKilled, type KilledAgent } from '../kill/killed.ts';
import { formatResourcePath, keyedSegment, parseResourcePath } from './resource-path.ts';

export interface PlanGatewayInput {
  readonly desired: DesiredGateway;
  readonly live: LiveGateway;
  readonly lastApplied: LastApplied | undefined;
  /** Keyed hash of a secret's value, by secret name. */
  readonly secretHash: (name: string) => Promise<string>;
  /** Rates and gates each change (default: no rules, so every change is allowed at low risk). */
  readonly policy?: PolicyEngine;
  /** Killed agents (reconciler/kill): nothing is planned for them, they are neither pruned nor re-owned; each gets a note. */
  readonly killed?: ReadonlyMap<string, KilledAgent>;
}

const NO_POLICY = new PolicyEngine(compileRuleSet([]).set, activeExceptions([], new Date(0)));

const emptyOperations = (): GatewayOperations => ({ deleteAgents: [], cronUpserts: [], cronRemovals: [], files: [] });

export async function planGateway(input: PlanGatewayInput): Promise<GatewayPlan> {
  const { live } = input;
  const killed = input.killed ?? new Map<string, KilledAgent>();
  const desired = withoutKilled(input.desired, killed);
  const lastApplied = splitKilled(input.lastApplied, killed).owned;
  const policy = input.policy ?? NO_POLICY;
  const gw = desired.gateway;
  const notes: PlanNote[] = [...desired.notes, ...[...killed.values()].map(killedNote)];
  const docs = await buildDocs(desired, live, lastApplied, input.secretHash);

  // Agents clawops managed that left git: deleted only where the Gateway allows pruning.
  const prune = gw.value.spec.prune === true;
  const deleteAgents: string[] = [];
  for (const view of docs.views.values()) {
    if (view.desired || !view.liveEntry) continue;
    if (killed.has(view.id)) {
      docs.live.agents = docs.live.agents.filter((a) => a.id !== view.id);
      continue;
    }
    if (prune && view.last?.created) deleteAgents.push(view.id);
    else {
      notes.push({
        level: 'info',
        message: view.last?.created
          ? `agent ${view.id} left git; it stays on ${gw.name} because the Gateway does not set prune: true`
          : `agent ${view.id} left git; clawops did not create it, so it stays on ${gw.name} and is no longer managed`,
      });
      docs.live.agents = docs.live.agents.filter((a) => a.id !== view.id);
    }
  }

  const changeset = diff(docs.live, docs.desired, { embeddedObjKeys: EMBEDDED_KEYS as unknown as Record<string, string> });
  const subjects = touchedSubjects(changeset);
  const changes: Change[] = [];
  const byId = (list: AgentDoc[], id: string) => list.find((a) => a.id === id);

  for (const [id, touched] of subjects) {
    const view = docs.views.get(id)!;
    const want = byId(docs.desired.agents, id);
    const have = byId(docs.live.agents, id);
    const resource = view.desired ? `Agent/${view.desired.resource.name}` : `Agent/${id}`;
    const add = (section: Section, path: string[], before: unknown, after: unknown, source?: SourceLocation, secret = false) => {
      const action: Action = before === undefined ? 'create' : after === undefined ? 'delete' : 'update';
      const owner = section === 'exec' && view.desired?.exec ? view.desired.exec.rule : view.desired?.resource;
      const changePath = resourcePath(section, path);
      const { risk, verdict } = policy.judge({
        kind: owner?.kind ?? 'Agent',
        labels: owner?.value.metadata.labels,
        resource: owner?.value,
        path: changePath,
        action,
        before,
        after,
        secret,
      });
      changes.push({
        gateway: gw.name,
        agentId: id,
        resource: owner ? `${owner.kind}/${owner.name}` : resource,
        action,
        category: categoryOf(section, path),
        risk,
        verdict,
        path: changePath,
        ...(before !== undefined ? { before } : {}),
        ...(after !== undefined ? { after } : {}),
        ...(secret ? { secret: true } : {}),
        ...(source ? { source } : {}),
      });
    };

    const created = Boolean(want && !have);
    if (touched.whole || created) {
      if (created) add('agent', ['config'], undefined, want!.config, locate(view.desired, ['spec', 'config']));
      else if (have && !want) add('agent', [], { config: have.config }, undefined);
      if (!want) continue;
    }
    if (!created) {
      for (const leaf of view.configLeaves) {
        if (!touched.config.some((t) => startsWith(leaf, t) || startsWith(t, leaf))) continue;
        const before = getPath(have?.config, leaf);
        const after = getPath(want?.config, leaf);
        if (deepEqual(before, after)) continue;
        add('config', leaf, before, after, locate(view.desired, ['spec', 'config', ...leaf]), pathKey(leaf) in view.secretHashes || pathKey(leaf) in (view.last?.secretHashes ?? {}));
      }
    }
    // Per entry: json-diff-ts said the section differs; compare its entries from both sides.
    const keysOf = <T>(list: (d?: AgentDoc) => T[] | undefined, key: (x: T) => string) => [...new Set([...(list(have) ?? []), ...(list(want) ?? [])].map(key))].sort();
    if (created || touched.sections.has('bindings')) {
      for (const key of keysOf((d) => d?.bindings, (b) => String(b.key))) {
        const before = have?.bindings.find((b) => b.key === key);
        const after = want?.bindings.find((b) => b.key === key);
        if (deepEqual(before, after)) continue;
        const index = view.desired?.bindings.findIndex((b) => bindingKey(b) === key) ?? -1;
        add('bindings', [key], strip(before, 'key'), strip(after, 'key'), index >= 0 ? locate(view.desired, ['spec', 'bindings', index]) : undefined);
      }
    }
    if (created || touched.sections.has('cron')) {
      for (const key of keysOf((d) => d?.cron, (j) => String(j.declarationKey))) {
        const before = have?.cron.find((j) => j.declarationKey === key);
        const after = want?.cron.find((j) => j.declarationKey === key);
        if (deepEqual(before, after)) continue;
        const c = view.desired?.cron.find((j) => j.declarationKey === key);
        add('cron', [key.split(':').slice(2).join(':')], before, after, c ? locate(view.desired, ['spec', 'cron', c.index]) : undefined);
      }
    }
    if (created || touched.sections.has('files')) {
      for (const name of keysOf((d) => d?.files, (f) => f.name)) {
        const before = have?.files.find((f) => f.name === name)?.sha256;
        const after = want?.files.find((f) => f.name === name)?.sha256;
        if (before === after || after === undefined) continue;
        add('files', [name], before && `sha256:${before.slice(0, 12)}`, `sha256:${after.slice(0, 12)}`, locate(view.desired, ['spec', 'files', name]));
      }
    }
    if (created || touched.sections.has('exec')) {
      const rule = view.desired?.exec?.rule;
      const fields = [...new Set([...Object.keys(have?.exec ?? {}), ...Object.keys(want?.exec ?? {})])].filter((f) => f !== 'allowlist').sort();
      for (const field of fields) {
        const before = have?.exec?.[field];
        const after = want?.exec?.[field];
        if (deepEqual(before, after)) continue;
        add('exec', [field], before, after, locateIn(rule, ['spec', 'exec', field]));
      }
      const entries = (d?: AgentDoc) => (d?.exec?.allowlist as JsonObject[] | undefined) ?? [];
      for (const pattern of keysOf(entries, (e) => String(e.pattern))) {
        const before = entries(have).find((e) => e.pattern === pattern);
        const after = entries(want).find((e) => e.pattern === pattern);
        if (deepEqual(before, after)) continue;
        const i = ((rule?.value.spec.exec.allowlist ?? []) as JsonObject[]).findIndex((e) => e.pattern === pattern);
        add('exec', ['allowlist', pattern], before, after, locateIn(rule, ['spec', 'exec', 'allowlist', ...(i >= 0 ? [i] : [])]));
      }
    }
  }

  changes.sort((a, b) => a.agentId.localeCompare(b.agentId) || a.path.localeCompare(b.path) || a.action.localeCompare(b.action));
  return {
    gateway: gw.name,
    url: gw.value.spec.url,
    version: live.version,
    status: 'ok',
    errors: [],
    notes,
    live: {
      config: live.config.hash,
      execApprovals: live.execApprovals.hash,
      cron: cronDigest(live.cron),
      files: Object.fromEntries([...live.files].map(([k, f]) => [k, f?.hash ?? ''])),
    },
    changes,
    operations: changes.length || deleteAgents.length ? operationsFor(changes, docs.views, live, deleteAgents) : emptyOperations(),
  };
}

interface Touched {
  /** The agent itself was added or removed. */
  whole: boolean;
  /** Config paths json-diff-ts reports (a list compared by position is reported as the list). */
  config: string[][];
  /** Other sections with any difference. */
  sections: Set<'bindings' | 'cron' | 'files' | 'exec'>;
}

/** What the changeset touches, per agent: json-diff-ts says where, the documents say what. */
function touchedSubjects(changeset: IChange[]): Map<string, Touched> {
  const out = new Map<string, Touched>();
  const paths: string[][] = [];
  const walk = (cs: IChange[], prefix: string[]) => {
    for (const c of cs) {
      const p = [...prefix, c.key];
      // A list compared by position is one value to the gateway: stop at the list.
      if (c.changes?.length && c.embeddedKey !== '$index') walk(c.changes, p);
      else paths.push(p);
    }
  };
  walk(changeset, []);
  for (const p of paths) {
    const [root, id, section, ...rest] = p;
    if (root !== 'agents' || id === undefined) continue;
    let t = out.get(id);
    if (!t) out.set(id, (t = { whole: false, config: [], sections: new Set() }));
    if (section === undefined) t.whole = true;
    else if (section === 'config') t.config.push(rest);
    else if (section === 'bindings' || section === 'cron' || section === 'files' || section === 'exec') t.sections.add(section);
  }
  return out;
}

const startsWith = (path: readonly string[], prefix: readonly string[]): boolean => prefix.every((k, i) => path[i] === k);

function strip(v: JsonObject | undefined, key: string): JsonObject | undefined {
  return v && Object.fromEntries(Object.entries(v).filter(([k]) => k !== key));
}

function resourcePath(section: Section, path: string[]): string {
  switch (section) {
    case 'agent':
      return path.length ? 'spec.config' : 'spec';
    case 'config':
      return formatResourcePath(['spec', 'config', ...path]);
    case 'bindings':
      return `spec.bindings${keyedSegment(path[0]!)}`;
    case 'cron':
      return `spec.cron${keyedSegment(path[0]!)}`;
    case 'files':
      return formatResourcePath(['spec', 'files', path[0]!]);
    case 'exec':
      return path.length > 1 ? `spec.exec.allowlist${keyedSegment(path[1]!)}` : formatResourcePath(['spec', 'exec', path[0]!]);
  }
}

/** Where in its YAML a resource says `path` (the nearest ancestor that exists, for a removed field). */
function locateIn(r: Pick<LoadedOf<'Agent'>, 'file' | 'locator'> | undefined, path: Array<string | number>): SourceLocation | undefined {
  if (!r) return undefined;
  const at = r.locator.locate(path);
  return { file: r.file, line: at.line, col: at.col };
}

const locate = (d: DesiredAgent | undefined, path: Array<string | number>) => locateIn(d?.resource, path);

/** The writes that make the changes: one patch, one exec-approvals document, per-job and per-file calls. */
function operationsFor(changes: readonly Change[], views: ReadonlyMap<string, ManagedAgentView>, live: LiveGateway, deleteAgents: string[]): GatewayOperations {
  const ops = emptyOperations();
  ops.deleteAgents = deleteAgents;
  const patch: JsonObject = {};
  const replacePaths = new Set<string>();
  const entries = agentEntries(live.config);
  const touchedAgents = new Set(changes.map((c) => c.agentId));

  for (const id of touchedAgents) {
    const view = views.get(id)!;
    const d = view.desired;
    if (!d) continue;
    const mine = changes.filter((c) => c.agentId === id);
    if (mine.some((c) => c.path === 'spec.config' && c.action === 'create')) {
      setPath(patch, ['agents', 'entries', id], structuredClone(d.config));
    } else {
      // The leaf itself, not the change's path split on dots: map keys such as `openai/gpt-5.4` hold dots.
      const leafOf = new Map(view.configLeaves.map((l) => [resourcePath('config', l), l]));
      for (const c of mine) {
        const leaf = leafOf.get(c.path);
        if (!leaf) continue;
        const value = getPath(d.config, leaf);
        setPath(patch, ['agents', 'entries', id, ...leaf], value === undefined ? null : structuredClone(value));
        const liveValue = getPath(view.liveEntry, leaf);
        // Any list the write shrinks or drops must be named, or the gateway refuses the patch.
        for (const a of arrayPaths(liveValue)) replacePaths.add(['agents', 'entries', id, ...leaf, ...a].join('.'));
      }
    }
  }
  if (Object.keys(patch).length) {
    const roster = new Set([...Object.keys(entries), ...Object.keys(((patch.agents as JsonObject | undefined)?.entries as JsonObject | undefined) ?? {})]);
    const ownership = (live.config.sourceConfig.agents as JsonObject | undefined)?.ownership;
    // The gateway refuses a multi-agent roster without it (research §3.3).
    if (roster.size > 1 && ownership !== 'explicit') setPath(patch, ['agents', 'ownership'], 'explicit');
  }

  if (changes.some((c) => c.category === 'bindings')) {
    const liveBindings = ((live.config.sourceConfig.bindings as JsonObject[] | undefined) ?? []).filter(isObject);
    const ours = (b: JsonObject) => {
      const v = typeof b.agentId === 'string' ? views.get(b.agentId) : undefined;
      if (!v?.desired) return false;
      const managed = new Set([...v.desired.bindings, ...(v.last?.bindings ?? [])].map(bindingKey));
      return managed.has(bindingKey(b));
    };
    const kept = liveBindings.filter((b) => !ours(b));
    const next = [...kept, ...[...views.values()].flatMap((v) => v.desired?.bindings ?? [])];
    patch.bindings = structuredClone(next);
    if (liveBindings.length) replacePaths.add('bindings');
  }
  if (Object.keys(patch).length) ops.configPatch = { patch, replacePaths: [...replacePaths].sort() };

  if (changes.some((c) => c.category === 'approvals')) {
    const file = structuredClone(live.execApprovals.file) as JsonObject & { agents?: Record<string, JsonObject> };
    const agents = (file.agents ??= {});
    for (const v of views.values()) {
      if (v.desired?.exec) {
        const ids = new Map(((agents[v.id]?.allowlist as JsonObject[] | undefined) ?? []).map((e) => [e.pattern, e.id]));
        const policy = structuredClone(v.desired.exec.policy);
        // Keep the ids the gateway gave entries that stay, so their usage history stays with them.
        if (Array.isArray(policy.allowlist)) policy.allowlist = (policy.allowlist as JsonObject[]).map((e) => (ids.get(e.pattern) ? { ...e, id: ids.get(e.pattern) } : e));
        agents[v.id] = { ...(agents[v.id] ?? {}), ...policy };
        for (const k of Object.keys(v.last?.exec ?? {})) if (!(k in policy)) delete agents[v.id]![k];
      } else if (v.last?.exec && !deleteAgents.includes(v.id)) delete agents[v.id];
    }
    ops.execApprovals = file;
  }

  for (const c of changes.filter((c) => c.category === 'cron')) {
    const key = `clawops:${c.agentId}:${parseResourcePath(c.path)[2]}`;
    if (c.action === 'delete') {
      const job = live.cron.find((j) => j.declarationKey === key);
      if (job) ops.cronRemovals.push({ id: job.id, declarationKey: key });
    } else {
      const job = views.get(c.agentId)?.desired?.cron.find((j) => j.declarationKey === key);
      if (job) ops.cronUpserts.push({ declarationKey: key, job: structuredClone(job.job) });
    }
  }

  for (const c of changes.filter((c) => c.category === 'files' && c.action !== 'delete')) {
    const name = parseResourcePath(c.path)[2]!;
    const f = views.get(c.agentId)?.desired?.files.find((x) => x.name === name);
    if (!f) continue;
    const liveFile = live.files.get(fileKey(c.agentId, name));
    ops.files.push({ agentId: c.agentId, name, contentFile: f.contentFile, sha256: f.sha256, ...(liveFile ? { expectedHash: liveFile.hash } : {}) });
  }
  return ops;
}
