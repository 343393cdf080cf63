/**
 * The live → fleet-repo mapping of `clawops import`: from what one gateway reports (LiveState) to
 * the resources, workspace files and secrets to write, plus an account of everything that was not
 * imported and why. Pure: no I/O, so every rule here is testable without a gateway.
 *
 * The rule throughout: what is written means exactly what the gateway has (an Agent's
 * `spec.config` is its `agents.entries.<id>` verbatim); what cannot be written that way is left
 * out and said so, in a YAML comment where it belongs and in the summary.
 */
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import { API_VERSION } from '../model/common.ts';
import { KINDS } from '../model/kinds.ts';
import { Binding } from '../model/openclaw.ts';
import { isSystemOwned, mapCronJob } from './cron-job.ts';
import { mapExecApproval } from './exec-approval.ts';
import { agentEntries, type LiveState, type WorkspaceFile } from './live-state.ts';
import { modelProblem } from './model-check.ts';
import { AGENT_ID, isName, NameAllocator, secretNameFor, slugify } from './names.ts';
import { REDACTED_SENTINEL, replaceRedacted, type Path } from './redacted-values.ts';

/** The label import puts on each Agent so that its ApprovalRule can select exactly that agent. */
export const AGENT_LABEL = 'clawops.dev/agent';

/** A comment placed above the node at `path` (above the key, for a mapping entry). */
export interface Note {
  readonly path: Path;
  readonly lines: readonly string[];
}

export type ImportedKind = 'Gateway' | 'Agent' | 'ApprovalRule';

export interface PlannedResource {
  readonly kind: ImportedKind;
  readonly name: string;
  /** Relative to the output folder, `/`-separated. */
  readonly file: string;
  readonly value: JsonObject;
  /** The file's header comment, one entry per line. */
  readonly header: readonly string[];
  readonly notes: readonly Note[];
}

export interface PlannedContent {
  readonly file: string;
  readonly content: string;
}

export interface PlannedSecret {
  readonly name: string;
  /** What `secrets/<name>.age` will hold. */
  readonly value: string;
  readonly kind: 'gateway-token' | 'redacted';
  /** Where it is used, e.g. `Agent/support spec.config.tts.providers.openai.apiKey`. */
  readonly usedBy: string;
}

export interface ImportedAgent {
  readonly id: string;
  readonly name: string;
  readonly file: string;
  readonly bindings: number;
  readonly cron: readonly string[];
  readonly files: readonly string[];
  readonly approvalRule?: string;
  readonly secrets: readonly string[];
}

export interface Omission {
  /** What, as the gateway names it: a config path, a cron job, an exec-approvals key. */
  readonly what: string;
  readonly reason: string;
}

export interface ImportPlan {
  readonly gateway: { readonly name: string; readonly url: string; readonly version: string; readonly configHash: string; readonly execApprovalsHash: string };
  readonly resources: readonly PlannedResource[];
  readonly contents: readonly PlannedContent[];
  readonly secrets: readonly PlannedSecret[];
  readonly agents: readonly ImportedAgent[];
  /** Whole things deliberately not imported (system jobs, agents the repo already has). */
  readonly skipped: readonly Omission[];
  /** Settings that exist on the gateway but that no clawops kind can hold yet. */
  readonly notImported: readonly Omission[];
  readonly warnings: readonly string[];
}

export interface ImportInput {
  readonly live: LiveState;
  readonly gatewayName: string;
  /** Import by URL: also write the Gateway resource, its token going to this secret. */
  readonly newGateway?: { readonly url: string; readonly tokenSecret: string; readonly token: string };
  /** Resource names already used in the repo, per kind. */
  readonly taken?: Partial<Record<ImportedKind, Iterable<string>>>;
  /** Agent ids the repo already declares on this gateway → the resource that does (`Agent/x in f.yaml`). */
  readonly declared?: ReadonlyMap<string, string>;
  /** Whether secret files can be written (the repo has age recipients). */
  readonly canEncrypt: boolean;
  /** ISO time stamp for the headers. */
  readonly importedAt: string;
  /** Masks values of secrets clawops knows (the gateway token) wherever they turn up. */
  readonly maskKnownSecrets?: (text: string) => string;
}

/** Gateway-wide config sections, and why each stays on the gateway for now. */
const SECTION_REASONS: Record<string, string> = {
  gateway: "the gateway's own server settings (bind, port, auth)",
  meta: "OpenClaw's bookkeeping",
  'agents.defaults': 'defaults for every agent on the gateway',
  'agents.ownership': 'follows from the number of agents; the gateway sets it',
};
const DEFAULT_REASON = 'gateway-wide; no clawops kind holds it yet';

const FILE_NAME = /^[A-Za-z0-9._-]+$/;

/** Strips credentials and query from a URL before it is written anywhere. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

const quoteList = (items: readonly string[]) => items.map((s) => JSON.stringify(s)).join(', ');

export function planImport(input: ImportInput): ImportPlan {
  const { live, gatewayName: gw } = input;
  const url = displayUrl(input.newGateway?.url ?? live.url);
  const names = {
    Agent: new NameAllocator(input.taken?.Agent),
    ApprovalRule: new NameAllocator(input.taken?.ApprovalRule),
  };
  const resources: PlannedResource[] = [];
  const contents: PlannedContent[] = [];
  const secrets: PlannedSecret[] = [];
  const agents: ImportedAgent[] = [];
  const skipped: Omission[] = [];
  const notImported: Omission[] = [];
  const warnings: string[] = [];
  const secretNames = new NameAllocator();
  const mask = (text: string, where: string): string => {
    const masked = input.maskKnownSecrets?.(text) ?? text;
    if (masked !== text) warnings.push(`${where} contained a secret clawops knows (e.g. the gateway token); it was replaced by a [REDACTED:…] marker`);
    return masked;
  };
  const maskValue = (value: unknown, where: string): unknown =>
    typeof value === 'string'
      ? mask(value, where)
      : Array.isArray(value)
        ? value.map((v) => maskValue(v, where))
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v, where)]))
          : value;
  const stamp = [`on ${input.importedAt} (OpenClaw ${live.version}),`, `config hash ${live.configHash}.`];
  const secretNote = (name: string) =>
    input.canEncrypt
      ? [
          'The gateway does not reveal this value. Its secret file holds a placeholder that',
          "keeps the gateway's value; to manage the value from git, store it:",
          `  clawops secrets set ${name}`,
        ]
      : ['The gateway does not reveal this value; store it (read from stdin):', `  clawops secrets set ${name}`];

  if (input.newGateway) {
    const { tokenSecret, token } = input.newGateway;
    resources.push({
      kind: 'Gateway',
      name: gw,
      file: `gateways/${gw}.yaml`,
      value: { apiVersion: API_VERSION, kind: 'Gateway', metadata: { name: gw }, spec: { url, auth: { token: { secretRef: tokenSecret } } } },
      header: [`Gateway ${gw}, imported by \`clawops import\` from ${url}`, ...stamp],
      notes: [
        {
          path: ['spec', 'auth', 'token'],
          lines: input.canEncrypt
            ? ["The gateway's shared token (from CLAWOPS_GATEWAY_TOKEN),", `age-encrypted in secrets/${tokenSecret}.age.`]
            : [`The gateway's shared token. This repo has no age recipients yet, so it was not stored; run`, `  clawops secrets set ${tokenSecret}`],
        },
      ],
    });
    secrets.push({ name: tokenSecret, value: token, kind: 'gateway-token', usedBy: `Gateway/${gw} spec.auth.token` });
    secretNames.allocate(tokenSecret);
  }

  const entries = agentEntries(live.sourceConfig);
  const rawBindings = Array.isArray(live.sourceConfig.bindings) ? (live.sourceConfig.bindings as unknown[]) : [];
  const bindingsOf = new Map<string, Array<{ index: number; binding: Record<string, unknown> }>>();
  rawBindings.forEach((b, index) => {
    const agentId = b && typeof b === 'object' ? (b as { agentId?: unknown }).agentId : undefined;
    if (typeof agentId !== 'string' || !Object.hasOwn(entries, agentId)) {
      notImported.push({ what: `bindings[${index}]`, reason: typeof agentId === 'string' ? `routes to "${agentId}", which is not in agents.entries` : 'has no agentId' });
      return;
    }
    const list = bindingsOf.get(agentId) ?? [];
    list.push({ index, binding: b as Record<string, unknown> });
    bindingsOf.set(agentId, list);
  });
  const systemJobs: string[] = [];
  const jobsOf = new Map<string, LiveState['cronJobs'][number][]>();
  for (const job of live.cronJobs) {
    if (isSystemOwned(job)) {
      systemJobs.push(job.declarationKey ?? job.name);
      continue;
    }
    const owner = job.agentId ?? (typeof job.effectiveAgentId === 'string' ? job.effectiveAgentId : undefined);
    if (!owner || !Object.hasOwn(entries, owner)) {
      notImported.push({ what: `cron job ${JSON.stringify(job.name)} (${job.id})`, reason: owner ? `belongs to "${owner}", which is not in agents.entries` : 'has no agent' });
      continue;
    }
    const list = jobsOf.get(owner) ?? [];
    list.push(job);
    jobsOf.set(owner, list);
  }
  if (systemJobs.length) {
    const namespaces = [...new Set(systemJobs.map((k) => `${k.split(':')[0]}:*`))];
    skipped.push({ what: `${systemJobs.length} system cron job${systemJobs.length === 1 ? '' : 's'} (${namespaces.join(', ')})`, reason: 'the gateway creates and manages these itself' });
  }
  const approvals = (live.execApprovals.file.agents ?? {}) as Record<string, JsonObject>;
  for (const id of Object.keys(approvals)) {
    if (!Object.hasOwn(entries, id)) notImported.push({ what: `exec approvals for "${id}"`, reason: 'no such agent in agents.entries' });
  }

  for (const [id, rawConfig] of Object.entries(entries)) {
    const config = (rawConfig && typeof rawConfig === 'object' ? rawConfig : {}) as JsonObject;
    const fileResult = live.files.get(id);
    const files: readonly WorkspaceFile[] = fileResult && 'error' in fileResult ? [] : (fileResult ?? []);
    const fileError = fileResult && 'error' in fileResult ? fileResult.error : undefined;
    const approval = approvals[id];
    const bindings = bindingsOf.get(id) ?? [];
    const jobs = jobsOf.get(id) ?? [];
    if (input.declared?.has(id)) {
      skipped.push({ what: `agent "${id}"`, reason: `already declared for ${gw} by ${input.declared.get(id)}` });
      continue;
    }
    if (id === 'main' && Object.keys(config).length === 0 && !bindings.length && !jobs.length && !approval && !files.length) {
      skipped.push({ what: 'agent "main"', reason: 'the implicit default agent, with no settings of its own' });
      continue;
    }
    if (!AGENT_ID.test(id)) {
      notImported.push({ what: `agents.entries.${id}`, reason: 'the id does not fit clawops’ agent id pattern ([a-z0-9_-], at most 63)' });
      continue;
    }
    if (fileError) warnings.push(`workspace files of "${id}" could not be read (${fileError}); none were imported`);

    const slug = slugify(id);
    const name = names.Agent.allocate(...(isName(slug) ? [slug] : []), slugify(`${gw}-${id}`));
    const agentFile = `agents/${gw}/${id}.yaml`;
    const where = `Agent/${name}`;
    const notes: Note[] = [];
    const agentSecrets: string[] = [];
    const newSecret = (path: Path, field: string[]) => {
      const secretName = secretNames.allocate(secretNameFor(gw, id, path));
      secrets.push({ name: secretName, value: REDACTED_SENTINEL, kind: 'redacted', usedBy: `${where} ${field.join('.')}` });
      agentSecrets.push(secretName);
      return secretName;
    };

    const redactedConfig = replaceRedacted(config, (p) => newSecret(p, ['spec', 'config', ...p.map(String)]));
    for (const s of redactedConfig.secrets) notes.push({ path: ['spec', 'config', ...s.path], lines: secretNote(s.secretName) });
    const spec: JsonObject = { gateway: gw };
    if (name !== id) spec.id = id;
    spec.config = maskValue(redactedConfig.value, `${agentFile} spec.config`);

    const specBindings: unknown[] = [];
    for (const { index, binding } of bindings) {
      const rest = { ...binding };
      delete rest.agentId;
      const problem = modelProblem(Binding, rest);
      if (problem) {
        notImported.push({ what: `bindings[${index}] (agent "${id}")`, reason: `does not fit clawops' Binding: ${problem}` });
        notes.push({ path: ['spec', 'gateway'], lines: [`Route bindings[${index}] of the gateway was not imported: it does not fit clawops' Binding (${problem}).`] });
        continue;
      }
      specBindings.push(maskValue(rest, `${agentFile} spec.bindings`));
    }
    if (specBindings.length) spec.bindings = specBindings;

    const jobNames = new NameAllocator();
    const specCron: unknown[] = [];
    const cronNames: string[] = [];
    for (const job of jobs) {
      const mapped = mapCronJob(job, id, jobNames);
      if (!mapped.ok) {
        notImported.push({ what: `cron job ${JSON.stringify(job.name)} (${job.id}, agent "${id}")`, reason: mapped.reason });
        notes.push({ path: ['spec', 'gateway'], lines: [`Cron job ${JSON.stringify(job.name)} (${job.id}) was not imported: it ${mapped.reason}.`] });
        continue;
      }
      for (const f of mapped.leftOut) notImported.push({ what: `cron job ${JSON.stringify(job.name)}: ${f}`, reason: "clawops' CronJob has no field for it yet" });
      if (mapped.comments.length) notes.push({ path: ['spec', 'cron', specCron.length], lines: mapped.comments });
      specCron.push(maskValue(mapped.job, `${agentFile} spec.cron`));
      cronNames.push(mapped.name);
    }
    if (specCron.length) spec.cron = specCron;

    const fileNames: string[] = [];
    if (files.length) {
      const map: Record<string, string> = {};
      for (const f of files) {
        if (!FILE_NAME.test(f.name) || f.name === '.' || f.name === '..') {
          notImported.push({ what: `workspace file ${JSON.stringify(f.name)} of "${id}"`, reason: 'not a plain file name' });
          continue;
        }
        map[f.name] = `./${id}/${f.name}`;
        contents.push({ file: `agents/${gw}/${id}/${f.name}`, content: mask(f.content, `agents/${gw}/${id}/${f.name}`) });
        fileNames.push(f.name);
      }
      if (fileNames.length) {
        spec.files = map;
        notes.push({ path: ['spec', 'files'], lines: ['Workspace files, content next to this file (as agents.files.get returned it).'] });
      }
    }

    const labels = { [AGENT_LABEL]: name };
    const value: JsonObject = { apiVersion: API_VERSION, kind: 'Agent', metadata: { name, labels }, spec };
    if (id === 'main') notes.push({ path: ['spec', 'config'], lines: ["main is the gateway's default agent."] });
    const problem = modelProblem(KINDS.Agent, value);
    if (problem) warnings.push(`${agentFile} does not fit clawops' Agent schema (${problem}); it was written as the gateway has it, fix it by hand`);
    resources.push({
      kind: 'Agent',
      name,
      file: agentFile,
      value,
      header: [
        `Agent "${id}" of gateway ${gw}, imported by \`clawops import\` from ${url}`,
        ...stamp,
        `spec.config is agents.entries.${id} exactly as the gateway stores it.`,
      ],
      notes,
    });

    // A label selector, not the name: ApprovalRules select agents by label.
    let ruleName: string | undefined;
    if (approval) {
      const mapped = mapExecApproval(approval);
      if (!mapped.ok) {
        notImported.push({ what: `exec approvals for "${id}"`, reason: mapped.reason });
      } else {
        ruleName = names.ApprovalRule.allocate(slugify(`${name}-exec`));
        for (const f of mapped.leftOut) notImported.push({ what: `exec approvals for "${id}": ${f}`, reason: "clawops' ApprovalRule cannot express it yet" });
        const ruleFile = `approvals/${gw}/${id}.yaml`;
        const ruleNotes: Note[] = [{ path: ['spec', 'agents'], lines: [`Exactly the agent imported in ${agentFile}.`] }];
        if (mapped.comments.length) ruleNotes.push({ path: ['spec', 'exec'], lines: mapped.comments });
        if (mapped.allowlistComments.length) ruleNotes.push({ path: ['spec', 'exec', 'allowlist'], lines: mapped.allowlistComments });
        resources.push({
          kind: 'ApprovalRule',
          name: ruleName,
          file: ruleFile,
          value: {
            apiVersion: API_VERSION,
            kind: 'ApprovalRule',
            metadata: { name: ruleName },
            spec: { agents: { matchLabels: { [AGENT_LABEL]: name } }, exec: maskValue(mapped.exec, `${ruleFile} spec.exec`) },
          },
          header: [
            `Exec approvals of agent "${id}" on gateway ${gw}, imported by \`clawops import\` from ${url}`,
            `on ${input.importedAt}, exec-approvals hash`,
            `${live.execApprovals.hash}.`,
            'Allowlist ids the gateway assigned are left out; it assigns new ones.',
          ],
          notes: ruleNotes,
        });
      }
    }

    agents.push({ id, name, file: agentFile, bindings: specBindings.length, cron: cronNames, files: fileNames, ...(ruleName ? { approvalRule: ruleName } : {}), secrets: agentSecrets });
  }

  // Gateway-wide settings stay on the gateway, but never silently.
  for (const key of Object.keys(live.sourceConfig)) {
    if (key === 'bindings') continue;
    if (key === 'agents') {
      const agentsSection = live.sourceConfig.agents;
      if (agentsSection && typeof agentsSection === 'object') {
        for (const sub of Object.keys(agentsSection)) if (sub !== 'entries') notImported.push({ what: `agents.${sub}`, reason: SECTION_REASONS[`agents.${sub}`] ?? DEFAULT_REASON });
      }
      continue;
    }
    notImported.push({ what: key, reason: SECTION_REASONS[key] ?? DEFAULT_REASON });
  }
  const approvalsFile = live.execApprovals.file as JsonObject;
  for (const key of Object.keys(approvalsFile)) {
    if (key === 'agents' || key === 'version') continue;
    const v = approvalsFile[key];
    if (v && typeof v === 'object' && Object.keys(v).length === 0) continue;
    notImported.push({ what: `exec approvals ${key}`, reason: key === 'defaults' ? 'gateway-wide exec defaults; ApprovalRules cover agents only' : key === 'socket' ? "where the gateway's approval socket lives; the gateway sets it" : DEFAULT_REASON });
  }
  if (input.newGateway === undefined && resources.length === 0) warnings.push(`nothing to import from ${gw}${skipped.length ? ` (skipped: ${quoteList(skipped.map((s) => s.what))})` : ''}`);

  return {
    gateway: { name: gw, url, version: live.version, configHash: live.configHash, execApprovalsHash: live.execApprovals.hash },
    resources,
    contents,
    secrets,
    agents,
    skipped,
    notImported,
    warnings,
  };
}
