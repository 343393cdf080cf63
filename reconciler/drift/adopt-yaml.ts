/**
 * Drift adoption (DESIGN §3, `propose`): the fleet repo edited so that git says what live says,
 * for a drift PR. Each drifted field becomes one edit of the YAML that produces it (yaml-edit.ts:
 * only that value's text changes) or of the content file a managed workspace file comes from.
 *
 * An edit is made only when it is unambiguous. Git is one source for many places: an Agent that
 * runs on several gateways, an ApprovalRule covering several agents, an AGENTS.md several agents
 * share. A value is adopted only when every place it feeds shows the same drift in the reports
 * given; otherwise adopting would change the places that did not drift. What cannot be written
 * into git (secrets) or is produced elsewhere (agents rendered from a TemplateDeployment), and
 * anything git changed itself since the last apply, is skipped with the reason and what to do.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { CRON_KEY_PREFIX } from '../desired/effective-state.ts';
import type { FleetRepo } from '../load/load-repo.ts';
import { ofKind, type LoadedOf } from '../load/resource.ts';
import { matchesSelector, targetGateways } from '../model/selector.ts';
import { bindingKey } from '../plan/agent-docs.ts';
import { deepEqual, getPath, isObject, mapSecretRefs } from '../plan/json-paths.ts';
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import { fileKey } from '../plan/read-live.ts';
import { parseResourcePath } from '../plan/resource-path.ts';
import type { DriftItem, DriftReport } from './detect.ts';
import { appendIn, deleteIn, removeDocument, setIn, YamlEditError, type YamlPath } from './yaml-edit.ts';
import { parseAllDocuments } from 'yaml';

export interface AdoptedItem extends DriftItem {
  readonly target: string;
}

export interface SkippedItem {
  readonly item: DriftItem;
  readonly target: string;
  /** Why, and what to do instead. */
  readonly why: string;
}

export interface AdoptResult {
  /** Repo-relative path → the file's new content, or null to delete it. Only files that change. */
  readonly files: Map<string, string | null>;
  readonly adopted: AdoptedItem[];
  readonly skipped: SkippedItem[];
}

/** Defaults effective-state.ts gives cron jobs the YAML may leave out. */
const CRON_DEFAULTS: Readonly<Record<string, unknown>> = { enabled: true, sessionTarget: 'isolated', wakeMode: 'now' };

type Resource = LoadedOf<'Agent'> | LoadedOf<'ApprovalRule'>;

/** One change to one file that makes git say what live says. */
type Edit =
  | { readonly op: 'set'; readonly resource: Resource; readonly path: YamlPath; readonly value: unknown }
  | { readonly op: 'delete'; readonly resource: Resource; readonly path: YamlPath; readonly keep: number }
  | { readonly op: 'append'; readonly resource: Resource; readonly path: YamlPath; readonly value: unknown }
  | { readonly op: 'remove-document'; readonly resource: Resource }
  | { readonly op: 'content'; readonly file: string; readonly content: string };

/** Every (gateway, agent) one place in git feeds: all must show the same drift to adopt it. */
interface Located {
  readonly edit: Edit;
  readonly subjects: readonly Subject[];
}

interface Subject {
  readonly target: string;
  readonly agentId: string;
}

type Planned = { located: Located } | { why: string };

const subjectKey = (s: Subject): string => `${s.target}\u0000${s.agentId}`;
const fileOf = (e: Edit): string => (e.op === 'content' ? e.file : e.resource.file);
const locationKey = (e: Edit): string =>
  e.op === 'content' ? `content ${e.file}` : `${e.resource.file} ${e.resource.kind}/${e.resource.name} ${e.op === 'remove-document' ? '' : JSON.stringify(e.path)}`;
const effectKey = (e: Edit): string => JSON.stringify(e.op === 'content' ? ['content', e.content] : e.op === 'remove-document' ? ['remove'] : [e.op, e.path, 'value' in e ? e.value : null]);

export async function adoptDrift(repo: FleetRepo, reports: DriftReport | readonly DriftReport[]): Promise<AdoptResult> {
  const all = Array.isArray(reports) ? (reports as readonly DriftReport[]) : [reports as DriftReport];
  const ctx = await repoContext(repo);
  const skipped: SkippedItem[] = [];
  const byLocation = new Map<string, { located: Located; seen: Map<string, { effect: string; item: DriftItem; target: string; live: unknown }> }>();

  for (const report of all) {
    for (const item of report.items) {
      const planned = await planItem(ctx, report, item);
      if ('why' in planned) {
        skipped.push({ item, target: report.target, why: planned.why });
        continue;
      }
      const key = locationKey(planned.located.edit);
      let at = byLocation.get(key);
      if (!at) byLocation.set(key, (at = { located: planned.located, seen: new Map() }));
      at.seen.set(subjectKey({ target: report.target, agentId: item.agentId }), { effect: effectKey(planned.located.edit), item, target: report.target, live: item.live });
    }
  }

  // Only what every place it feeds agrees on.
  const ready: Array<{ edit: Edit; items: Array<{ item: DriftItem; target: string }> }> = [];
  for (const { located, seen } of byLocation.values()) {
    const items = [...seen.values()];
    const missing = located.subjects.filter((s) => !seen.has(subjectKey(s)));
    const effects = new Set(items.map((i) => i.effect));
    let why: string | undefined;
    if (effects.size > 1) why = `live differs between the places this YAML feeds (${items.map((i) => `${i.target}/${i.item.agentId}: ${show(i.live)}`).join('; ')}); make them agree, or edit the YAML by hand`;
    else if (missing.length) {
      why = `${describeSource(located.edit)} also feeds ${missing.map((s) => `agent ${s.agentId} on ${s.target}`).join(', ')}, where this has not drifted (or was not checked); adopting the value would change it there too. Revert the drift, or edit the YAML by hand`;
    }
    if (why) for (const i of items) skipped.push({ item: i.item, target: i.target, why });
    else ready.push({ edit: located.edit, items: items.map(({ item, target }) => ({ item, target })) });
  }

  // Per file: values first, then removals from the end backwards, so list indexes stay valid.
  const files = new Map<string, string | null>();
  const adopted: AdoptedItem[] = [];
  const byFile = new Map<string, typeof ready>();
  for (const r of ready) byFile.set(fileOf(r.edit), [...(byFile.get(fileOf(r.edit)) ?? []), r]);
  for (const [file, edits] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    const original = await readFile(join(repo.root, file), 'utf8').catch(() => undefined);
    let text: string | null = original ?? null;
    for (const r of [...edits].sort((a, b) => editOrder(a.edit) - editOrder(b.edit) || compareRemovals(b.edit, a.edit))) {
      try {
        if (text === null && r.edit.op !== 'content') throw new YamlEditError(original === undefined ? 'the file is gone' : 'the file was already removed');
        text = applyEdit(text ?? '', r.edit);
        adopted.push(...r.items.map(({ item, target }) => ({ ...item, target })));
      } catch (e) {
        if (!(e instanceof YamlEditError)) throw e;
        for (const { item, target } of r.items) skipped.push({ item, target, why: `${file} could not be edited safely here (${e.message}); edit it by hand` });
      }
    }
    if (text !== (original ?? null)) files.set(file, text);
  }
  const order = (a: { target: string; agentId: string; path: string }, b: typeof a) => a.target.localeCompare(b.target) || a.agentId.localeCompare(b.agentId) || a.path.localeCompare(b.path);
  adopted.sort(order);
  skipped.sort((a, b) => order({ target: a.target, ...a.item }, { target: b.target, ...b.item }));
  return { files, adopted, skipped };
}

const editOrder = (e: Edit): number => (e.op === 'set' || e.op === 'append' || e.op === 'content' ? 0 : e.op === 'delete' ? 1 : 2);

/** Later list entries and documents first. */
function compareRemovals(a: Edit, b: Edit): number {
  if (a.op === 'remove-document' && b.op === 'remove-document') return a.resource.documentIndex - b.resource.documentIndex;
  if (a.op !== 'delete' || b.op !== 'delete') return 0;
  if (a.resource.documentIndex !== b.resource.documentIndex) return a.resource.documentIndex - b.resource.documentIndex;
  for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) {
    const x = a.path[i]!;
    const y = b.path[i]!;
    if (x === y) continue;
    return typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
  }
  return a.path.length - b.path.length;
}

function applyEdit(text: string, edit: Edit): string | null {
  if (edit.op === 'content') return edit.content;
  const index = documentIndexOf(text, edit.resource);
  switch (edit.op) {
    case 'set':
      return setIn(text, index, edit.path, edit.value);
    case 'delete':
      return deleteIn(text, index, edit.path, edit.keep);
    case 'append':
      return appendIn(text, index, edit.path, edit.value);
    case 'remove-document':
      return removeDocument(text, index);
  }
}

/** The resource's document now: where the loader saw it, or found again by kind and name. */
function documentIndexOf(text: string, r: Resource): number {
  const docs = parseAllDocuments(text, { version: '1.2' });
  const values = (Array.isArray(docs) ? docs : []).map((d) => d.toJS() as unknown);
  const isIt = (v: unknown) => isObject(v) && v.kind === r.kind && isObject(v.metadata) && v.metadata.name === r.name;
  if (isIt(values[r.documentIndex])) return r.documentIndex;
  const i = values.findIndex(isIt);
  if (i < 0) throw new YamlEditError(`${r.kind}/${r.name} is no longer in the file`);
  return i;
}

// ---- from a drift item to the edit that adopts it ----

interface RepoContext {
  readonly repo: FleetRepo;
  readonly agents: LoadedOf<'Agent'>[];
  readonly gateways: LoadedOf<'Gateway'>[];
  readonly rules: LoadedOf<'ApprovalRule'>[];
  readonly deployments: LoadedOf<'TemplateDeployment'>[];
  /** Content file → the agents whose `spec.files` point at it. */
  readonly contentUsers: Map<string, LoadedOf<'Agent'>[]>;
  readonly fileText: (file: string) => Promise<string | undefined>;
}

const agentIdOf = (a: LoadedOf<'Agent'>): string => a.value.spec.id ?? a.name;
const contentFileOf = (a: LoadedOf<'Agent'>, rel: string): string => posix.normalize(posix.join(posix.dirname(a.file), rel));

async function repoContext(repo: FleetRepo): Promise<RepoContext> {
  const agents = ofKind(repo.resources, 'Agent');
  const contentUsers = new Map<string, LoadedOf<'Agent'>[]>();
  for (const a of agents) {
    for (const rel of Object.values(a.value.spec.files ?? {})) {
      const f = contentFileOf(a, rel);
      contentUsers.set(f, [...(contentUsers.get(f) ?? []), a]);
    }
  }
  const cache = new Map<string, Promise<string | undefined>>();
  return {
    repo,
    agents,
    gateways: ofKind(repo.resources, 'Gateway'),
    rules: ofKind(repo.resources, 'ApprovalRule'),
    deployments: ofKind(repo.resources, 'TemplateDeployment'),
    contentUsers,
    fileText: (file) => {
      let t = cache.get(file);
      if (!t) cache.set(file, (t = readFile(join(repo.root, file), 'utf8').catch(() => undefined)));
      return t;
    },
  };
}

const subjectsOf = (ctx: RepoContext, agents: readonly LoadedOf<'Agent'>[]): Subject[] =>
  agents.flatMap((a) => targetGateways(a.value.spec, ctx.gateways).map((g) => ({ target: g.name, agentId: agentIdOf(a) })));

function describeSource(e: Edit): string {
  return e.op === 'content' ? e.file : `${e.resource.kind}/${e.resource.name} (${e.resource.file})`;
}

const show = (v: unknown): string => (v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 80));

async function planItem(ctx: RepoContext, report: DriftReport, item: DriftItem): Promise<Planned> {
  const target = report.target;
  if (item.secret) {
    const names = new Set<string>();
    const agent = ctx.agents.find((a) => agentIdOf(a) === item.agentId);
    mapSecretRefs(getPath(agent?.value.spec.config, parseResourcePath(item.path).slice(2)), (name) => names.add(name));
    const which = names.size ? ` \`clawops secrets set ${[...names][0]}\`` : ' `clawops secrets set <name>`';
    return { why: `a secret's value never goes into git. If the value now live is the one to keep, store it with${which} and apply; otherwise apply to put the recorded one back` };
  }
  const agent = ctx.agents.find((a) => agentIdOf(a) === item.agentId && targetGateways(a.value.spec, ctx.gateways).some((g) => g.name === target));
  if (!agent) return { why: notInGit(ctx, target, item.agentId) };
  const segs = parseResourcePath(item.path);
  const subjects = subjectsOf(ctx, [agent]);

  switch (item.section) {
    case 'agent':
      return { located: { edit: { op: 'remove-document', resource: agent }, subjects } };

    case 'config': {
      const leaf = segs.slice(2);
      const inGit = getPath(agent.value.spec.config, leaf);
      if (!deepEqual(inGit, item.lastApplied)) return { why: gitMoved(inGit, item) };
      const path = ['spec', 'config', ...leaf];
      const edit: Edit = item.live === undefined ? { op: 'delete', resource: agent, path, keep: 2 } : { op: 'set', resource: agent, path, value: item.live };
      return { located: { edit, subjects } };
    }

    case 'bindings': {
      const key = segs[2]!;
      const routes = agent.value.spec.bindings ?? [];
      const index = routes.findIndex((b) => bindingKey({ agentId: item.agentId, ...(b as JsonObject) }) === key);
      if (index < 0) return { why: `git no longer has the route ${key} for agent ${item.agentId}; nothing to adopt it into` };
      if (!deepEqual({ agentId: item.agentId, ...(routes[index] as JsonObject) }, item.lastApplied)) return { why: gitMoved(routes[index], item) };
      const path = ['spec', 'bindings', index];
      if (item.live === undefined) return { located: { edit: { op: 'delete', resource: agent, path, keep: 1 }, subjects } };
      const route = Object.fromEntries(Object.entries(item.live as JsonObject).filter(([k]) => k !== 'agentId'));
      return { located: { edit: { op: 'set', resource: agent, path, value: route }, subjects } };
    }

    case 'cron': {
      const [, , name, field] = segs;
      const jobs = agent.value.spec.cron ?? [];
      const index = jobs.findIndex((j) => j.name === name);
      if (index < 0) return { why: `git no longer has the cron job ${name} (${CRON_KEY_PREFIX}${item.agentId}:${name}); nothing to adopt it into` };
      if (field === undefined) return { located: { edit: { op: 'delete', resource: agent, path: ['spec', 'cron', index], keep: 1 }, subjects } };
      const inGit = (jobs[index] as JsonObject)[field] ?? CRON_DEFAULTS[field];
      if (!deepEqual(inGit, item.lastApplied)) return { why: gitMoved(inGit, item) };
      const path = ['spec', 'cron', index, field];
      const edit: Edit = item.live === undefined ? { op: 'delete', resource: agent, path, keep: 3 } : { op: 'set', resource: agent, path, value: item.live };
      return { located: { edit, subjects } };
    }

    case 'files': {
      const name = segs[2]!;
      const rel = agent.value.spec.files?.[name];
      if (rel === undefined) return { why: `git no longer manages ${name} for agent ${item.agentId}` };
      const file = contentFileOf(agent, rel);
      const users = ctx.contentUsers.get(file) ?? [agent];
      if (item.live === undefined) return { located: { edit: { op: 'delete', resource: agent, path: ['spec', 'files', name], keep: 1 }, subjects } };
      const content = report.liveFiles[fileKey(item.agentId, name)];
      if (content === undefined) return { why: `the live content of ${name} was not read; run the drift check again` };
      const inGit = await ctx.fileText(file);
      const gitHash = inGit === undefined ? undefined : `sha256:${createHash('sha256').update(inGit).digest('hex').slice(0, 12)}`;
      if (gitHash !== item.lastApplied) return { why: `${file} changed in git since the last apply; merge the live edit into it by hand` };
      return { located: { edit: { op: 'content', file, content }, subjects: subjectsOf(ctx, users) } };
    }

    case 'exec':
      return planExec(ctx, target, item, segs);
  }
}

function planExec(ctx: RepoContext, target: string, item: DriftItem, segs: string[]): Planned {
  const name = item.resource?.startsWith('ApprovalRule/') ? item.resource.slice('ApprovalRule/'.length) : undefined;
  const rule = ctx.rules.find((r) => r.name === name);
  if (!rule) return { why: `no ApprovalRule in git covers agent ${item.agentId} on ${target} any more; nothing to adopt its exec approvals into` };
  // The rule speaks for every agent it is the first to cover (effective-state.ts).
  const covered = ctx.agents.filter((a) => ctx.rules.find((r) => matchesSelector(r.value.spec.agents, a.value.metadata.labels)) === rule);
  const subjects = subjectsOf(ctx, covered);
  const exec = rule.value.spec.exec as JsonObject;
  const [, , field, pattern] = segs;
  if (field === undefined) return { why: `the exec-approval entry of agent ${item.agentId} was removed on ${target}; git cannot say "no entry" for one agent of ApprovalRule/${rule.name}. Narrow its selector, or apply to restore the entry` };
  if (field !== 'allowlist') {
    if (!deepEqual(exec[field], item.lastApplied)) return { why: gitMoved(exec[field], item) };
    const path = ['spec', 'exec', field];
    const edit: Edit = item.live === undefined ? { op: 'delete', resource: rule, path, keep: 2 } : { op: 'set', resource: rule, path, value: item.live };
    return { located: { edit, subjects } };
  }
  const list = (Array.isArray(exec.allowlist) ? exec.allowlist : []) as JsonObject[];
  const index = list.findIndex((e) => e.pattern === pattern);
  if (index < 0) {
    if (item.lastApplied !== undefined) return { why: `git no longer has the allowlist entry ${pattern}; nothing to adopt it into` };
    return { located: { edit: { op: 'append', resource: rule, path: ['spec', 'exec', 'allowlist'], value: item.live }, subjects } };
  }
  const { description, ...entry } = list[index]!;
  if (!deepEqual(entry, item.lastApplied)) return { why: gitMoved(list[index], item) };
  const path = ['spec', 'exec', 'allowlist', index];
  if (item.live === undefined) return { located: { edit: { op: 'delete', resource: rule, path, keep: 2 }, subjects } };
  // The gateway keeps no descriptions; git's stays.
  return { located: { edit: { op: 'set', resource: rule, path, value: { ...(item.live as JsonObject), ...(description !== undefined ? { description } : {}) } }, subjects } };
}

function gitMoved(inGit: unknown, item: DriftItem): string {
  return `git changed this since the last apply (git: ${show(inGit)}, last applied: ${show(item.lastApplied)}, live: ${show(item.live)}); decide by hand which value to keep`;
}

function notInGit(ctx: RepoContext, target: string, agentId: string): string {
  for (const d of ctx.deployments) {
    const i = d.value.spec.instances.findIndex((x) => x.name === agentId);
    if (i < 0 || !targetGateways(d.value.spec, ctx.gateways).some((g) => g.name === target)) continue;
    const at = d.locator.locate(['spec', 'instances', i]);
    return `agent ${agentId} is rendered from TemplateDeployment/${d.name} (instance ${agentId}, ${d.file}:${at.line}); change its values there, or Template ${d.value.spec.template.name}@${d.value.spec.template.version} for every instance`;
  }
  return `no Agent in git produces agent ${agentId} on ${target}; nothing to adopt it into`;
}
