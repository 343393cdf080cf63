/**
 * Checks that need the whole repo: duplicate names, references to gateways, templates, secrets,
 * policies and files that do not exist, selectors that match nothing, and template values that do
 * not fit their variables. Every problem points at the YAML that holds the reference.
 */
import { access } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import Type from 'typebox';
import type { Diagnostic, DiagnosticCode } from '../diagnostics/diagnostic.ts';
import { didYouMean } from '../diagnostics/did-you-mean.ts';
import type { Labels, Selector } from '../model/common.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import { formatSelector, matchesSelector, targetGateways } from '../model/selector.ts';
import type { TemplateVariable } from '../model/kinds.ts';
import { builtinPacks, ruleIdsOf } from '../policy/packs.ts';
import { ofKind, resourceId, type BrokenResource, type LoadedOf, type LoadedResource } from './resource.ts';
import type { SchemaRegistry } from './schema-validator.ts';
import type { PathSegment, SourceLocator } from './source-map.ts';
import { fieldPath } from '../diagnostics/diagnostic.ts';

export interface ReferenceInput {
  readonly root: string;
  readonly config: RepositoryConfig | undefined;
  readonly resources: readonly LoadedResource[];
  /** Resources that failed their schema: references to them are not reported again. */
  readonly broken: readonly BrokenResource[];
  readonly schemas: SchemaRegistry;
  /** Where fields of clawops.yaml sit, when it parsed. */
  readonly configLocator?: SourceLocator | undefined;
}

/** An agent as selectors see it: a plain Agent, or one instance of a TemplateDeployment. */
interface AgentLike {
  readonly id: string;
  readonly labels: Labels;
  readonly owner: LoadedResource;
  readonly path: PathSegment[];
}

const SECRET_NAME_FILE = (name: string) => `secrets/${name}.age`;

/** Visits every value inside `value` with its path, without recursion; `visit` returns false to skip a subtree. */
function walkValues(value: unknown, path: PathSegment[], visit: (v: unknown, p: PathSegment[]) => boolean | void): void {
  const stack: Array<[unknown, PathSegment[]]> = [[value, path]];
  while (stack.length) {
    const [v, p] = stack.pop()!;
    if (visit(v, p) === false) continue;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, [...p, i]]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) stack.push([x, [...p, k]]);
  }
}

/** Every `{ secretRef: NAME }` inside a value, with its path. */
export function findSecretRefs(value: unknown, path: PathSegment[] = []): Array<{ name: string; path: PathSegment[] }> {
  const out: Array<{ name: string; path: PathSegment[] }> = [];
  walkValues(value, path, (v, p) => {
    const o = v as { secretRef?: unknown } | null;
    if (o && typeof o === 'object' && typeof o.secretRef === 'string' && Object.keys(o).length === 1) {
      out.push({ name: o.secretRef, path: [...p, 'secretRef'] });
      return false;
    }
    return true;
  });
  return out;
}

const PLACEHOLDER = /\$\{([^}]*)\}/g;

function placeholders(value: unknown, path: PathSegment[]): Array<{ name: string; path: PathSegment[] }> {
  const out: Array<{ name: string; path: PathSegment[] }> = [];
  walkValues(value, path, (v, p) => {
    if (typeof v === 'string') for (const m of v.matchAll(PLACEHOLDER)) out.push({ name: m[1]!.trim(), path: p });
  });
  return out;
}

/** A JSON Schema for one template variable, checked by the same ajv as everything else. */
function variableSchema(v: TemplateVariable) {
  const common = { ...(v.enum ? { enum: v.enum } : {}), ...(v.description ? { description: v.description } : {}) };
  switch (v.type) {
    case 'string':
      return Type.String({ ...common, ...(v.pattern ? { pattern: v.pattern } : {}) });
    case 'number':
      return Type.Number({ ...common, ...(v.minimum !== undefined ? { minimum: v.minimum } : {}), ...(v.maximum !== undefined ? { maximum: v.maximum } : {}) });
    case 'boolean':
      return Type.Boolean(common);
    case 'json':
      return Type.Unknown(common);
  }
}

const isRequired = (v: TemplateVariable) => v.required ?? v.default === undefined;

export async function checkReferences(input: ReferenceInput): Promise<Diagnostic[]> {
  const { root, config, resources, schemas } = input;
  const configLocate = input.configLocator ? (p: PathSegment[]) => input.configLocator!.locate(p) : undefined;
  const out: Diagnostic[] = [];
  const report = (r: LoadedResource, path: PathSegment[], code: DiagnosticCode, message: string, hint?: string, at: 'key' | 'value' = 'value', severity: 'error' | 'warning' = 'error') =>
    out.push({
      severity,
      code,
      file: r.file,
      ...r.locator.locate(path, at),
      resource: resourceId(r),
      field: fieldPath(path),
      message,
      ...(hint ? { hint } : {}),
    });

  // Duplicate kind/name: report at both places so either file's author sees it.
  const firstByName = new Map<string, LoadedResource>();
  for (const r of resources) {
    const id = resourceId(r);
    const first = firstByName.get(id);
    if (!first) {
      firstByName.set(id, r);
      continue;
    }
    for (const [here, there] of [
      [r, first],
      [first, r],
    ] as const) {
      out.push({
        severity: 'error',
        code: 'duplicate-resource',
        file: here.file,
        ...here.locator.locate(['metadata', 'name']),
        resource: id,
        field: 'metadata.name',
        message: `${id} is defined more than once`,
        hint: 'rename one of them or delete the copy',
        related: { file: there.file, ...there.locator.locate(['metadata', 'name']) },
      });
    }
  }

  // Duplicates are reported above; from here on the first definition of each name stands.
  const gateways = ofKind(resources, 'Gateway').filter((g) => firstByName.get(resourceId(g)) === g);
  const brokenOf = (kind: BrokenResource['kind']) => input.broken.filter((b) => b.kind === kind);
  const brokenGateways = brokenOf('Gateway');
  const gatewayNames = [...gateways, ...brokenGateways].map((g) => g.name);
  const templates = new Map(ofKind(resources, 'Template').map((t) => [t.name, t]));
  const brokenTemplates = new Set(brokenOf('Template').map((t) => t.name));

  // Which gateways a resource with `gateway` / `gateways` lands on; undefined when that is itself an error.
  const targets = (r: LoadedOf<'Agent'> | LoadedOf<'TemplateDeployment'>): Array<LoadedOf<'Gateway'>> => {
    const spec = r.value.spec;
    const res = r as LoadedResource;
    if (spec.gateway !== undefined && spec.gateways !== undefined) {
      report(res, ['spec', 'gateways'], 'conflicting-fields', 'set either `gateway` or `gateways`, not both', 'keep `gateway: <name>` for one gateway, `gateways.matchLabels` for several', 'key');
      return [];
    }
    if (spec.gateway === undefined && spec.gateways === undefined) {
      report(res, ['spec'], 'missing-field', 'missing a target: set `gateway: <name>` or `gateways: { matchLabels: … }`', undefined, 'key');
      return [];
    }
    if (spec.gateway !== undefined) {
      const g = gateways.find((x) => x.name === spec.gateway);
      if (!g && brokenGateways.some((b) => b.name === spec.gateway)) return [];
      if (!g) {
        const guess = didYouMean(spec.gateway, gatewayNames);
        report(res, ['spec', 'gateway'], 'dangling-reference', `no Gateway named "${spec.gateway}"`, guess ? `did you mean "${guess}"?` : gatewayNames.length ? `known gateways: ${gatewayNames.join(', ')}` : 'add a Gateway resource');
        return [];
      }
      return [g];
    }
    const sel = spec.gateways as Selector;
    const matched = targetGateways(spec, gateways);
    if (!matched.length && !brokenGateways.some((b) => matchesSelector(sel, b.labels))) report(res, ['spec', 'gateways'], 'selector-matches-nothing', `selector ${formatSelector(sel)} matches no Gateway`, 'check the labels on your Gateway resources');
    return matched;
  };

  /** Managed workspace files must exist inside the repo, relative to the YAML that names them. */
  const checkFiles = async (r: LoadedResource, files: Record<string, string> | undefined, at: PathSegment[]) => {
    for (const [name, path] of Object.entries(files ?? {})) {
      const target = resolve(root, dirname(r.file), path);
      const rel = relative(root, target);
      if (rel.startsWith('..') || rel.startsWith(sep) || resolve(root, rel) !== target) {
        report(r, [...at, name], 'dangling-reference', `"${path}" points outside the repo`, 'keep workspace files inside the fleet repo so they are reviewed');
      } else if (!(await access(target).then(() => true, () => false))) {
        report(r, [...at, name], 'dangling-reference', `file "${path}" does not exist (looked for ${rel.split(sep).join('/')})`, 'paths are relative to the YAML file that names them');
      }
    }
  };

  const agents: AgentLike[] = [];
  const idsOnGateway = new Map<string, Map<string, AgentLike>>();
  const claim = (gateway: LoadedOf<'Gateway'>, a: AgentLike) => {
    const ids = idsOnGateway.get(gateway.name) ?? new Map<string, AgentLike>();
    idsOnGateway.set(gateway.name, ids);
    const other = ids.get(a.id);
    // The same resource reaching a gateway twice is already a duplicate-name error, not a collision.
    if (other?.owner === a.owner) return;
    if (other) {
      out.push({
        severity: 'error',
        code: 'duplicate-agent-id',
        file: a.owner.file,
        ...a.owner.locator.locate(a.path),
        resource: resourceId(a.owner),
        field: fieldPath(a.path),
        message: `agent id "${a.id}" is already used on gateway ${gateway.name} by ${resourceId(other.owner)}`,
        hint: a.owner.kind === 'TemplateDeployment' ? 'rename the instance or target different gateways' : 'set a different `spec.id` or target different gateways',
        related: { file: other.owner.file, ...other.owner.locator.locate(other.path) },
      });
    } else ids.set(a.id, a);
  };

  for (const agent of ofKind(resources, 'Agent')) {
    const spec = agent.value.spec;
    const a: AgentLike = { id: spec.id ?? agent.name, labels: agent.value.metadata.labels ?? {}, owner: agent, path: spec.id ? ['spec', 'id'] : ['metadata', 'name'] };
    agents.push(a);
    for (const g of targets(agent)) claim(g, a);
    const cronNames = new Set<string>();
    (spec.cron ?? []).forEach((job, i) => {
      if (cronNames.has(job.name)) report(agent, ['spec', 'cron', i, 'name'], 'duplicate-resource', `cron job "${job.name}" is listed twice for this agent`, 'cron job names must be unique per agent: they form the declarationKey');
      cronNames.add(job.name);
    });
    await checkFiles(agent, spec.files, ['spec', 'files']);
  }

  for (const dep of ofKind(resources, 'TemplateDeployment')) {
    const spec = dep.value.spec;
    const gws = targets(dep);
    const template = templates.get(spec.template.name);
    if (!template && brokenTemplates.has(spec.template.name)) {
      // Its own schema errors are reported; checking values against it would only add noise.
    } else if (!template) {
      const guess = didYouMean(spec.template.name, templates.keys());
      report(dep, ['spec', 'template', 'name'], 'dangling-reference', `no Template named "${spec.template.name}"`, guess ? `did you mean "${guess}"?` : 'add the Template resource or fix the name');
    } else if (template.value.spec.version !== spec.template.version) {
      report(dep, ['spec', 'template', 'version'], 'dangling-reference', `Template ${template.name} is at version ${template.value.spec.version}, not ${spec.template.version}`, `deploy version ${template.value.spec.version}, or keep the old template under another name while you roll out`);
    }
    const seen = new Set<string>();
    spec.instances.forEach((inst, i) => {
      if (seen.has(inst.name)) report(dep, ['spec', 'instances', i, 'name'], 'duplicate-resource', `instance "${inst.name}" is listed twice`, 'instance names become agent ids and must be unique');
      seen.add(inst.name);
      const a: AgentLike = { id: inst.name, labels: { ...(dep.value.metadata.labels ?? {}), ...(inst.labels ?? {}) }, owner: dep, path: ['spec', 'instances', i, 'name'] };
      agents.push(a);
      for (const g of gws) claim(g, a);
      if (!template) return;
      const vars = template.value.spec.variables;
      const values = inst.values ?? {};
      for (const [k, v] of Object.entries(values)) {
        const path: PathSegment[] = ['spec', 'instances', i, 'values', k];
        const def = vars[k];
        if (!def) {
          const guess = didYouMean(k, Object.keys(vars));
          report(dep, path, 'invalid-template-value', `template ${template.name} has no variable "${k}"`, guess ? `did you mean "${guess}"?` : `its variables: ${Object.keys(vars).join(', ') || '(none)'}`, 'key');
          continue;
        }
        out.push(...schemas.check(variableSchema(def), v, { file: dep.file, resource: resourceId(dep), locator: dep.locator, basePath: path }).map((d) => ({ ...d, code: 'invalid-template-value' as const })));
      }
      for (const [k, def] of Object.entries(vars)) {
        if (isRequired(def) && !Object.hasOwn(values, k)) {
          report(dep, ['spec', 'instances', i, 'values'], 'invalid-template-value', `missing value for required variable "${k}" of template ${template.name}`, def.description, 'key');
        }
      }
    });
  }

  for (const t of templates.values()) {
    const vars = t.value.spec.variables;
    await checkFiles(t, t.value.spec.agent.files, ['spec', 'agent', 'files']);
    for (const p of placeholders(t.value.spec.agent, ['spec', 'agent'])) {
      if (!Object.hasOwn(vars, p.name)) {
        const guess = didYouMean(p.name, Object.keys(vars));
        report(t, p.path, 'dangling-reference', `\${${p.name}} names no variable of this template`, guess ? `did you mean "${guess}"?` : 'declare it under spec.variables');
      }
    }
    for (const [k, def] of Object.entries(vars)) {
      if (def.default !== undefined) {
        out.push(...schemas.check(variableSchema(def), def.default, { file: t.file, resource: resourceId(t), locator: t.locator, basePath: ['spec', 'variables', k, 'default'] }));
      }
    }
  }

  const brokenAgentLabels = brokenOf('Agent').map((b) => b.labels);
  const agentSelector = (r: LoadedResource, path: PathSegment[], sel: Selector, what: string) => {
    if (!agents.some((a) => matchesSelector(sel, a.labels)) && !brokenAgentLabels.some((l) => matchesSelector(sel, l))) {
      report(r, path, 'selector-matches-nothing', `selector ${formatSelector(sel)} matches no agent`, `check the labels on the agents this ${what} should cover`);
    }
  };
  for (const rule of ofKind(resources, 'ApprovalRule')) agentSelector(rule, ['spec', 'agents'], rule.value.spec.agents, 'approval rule');
  for (const b of ofKind(resources, 'Budget')) {
    const { scope, onBreach } = b.value.spec;
    if (scope.agents) agentSelector(b, ['spec', 'scope', 'agents'], scope.agents, 'budget');
    if (scope.gateways && ![...gateways.map((g) => g.value.metadata.labels ?? {}), ...brokenGateways.map((g) => g.labels)].some((l) => matchesSelector(scope.gateways!, l))) {
      report(b, ['spec', 'scope', 'gateways'], 'selector-matches-nothing', `selector ${formatSelector(scope.gateways)} matches no Gateway`, 'check the labels on your Gateway resources');
    }
    if (onBreach.action === 'downgrade-model' && !onBreach.model) {
      report(b, ['spec', 'onBreach'], 'missing-field', '`downgrade-model` needs the model to switch to', 'add `model: <provider/model>` under onBreach', 'key');
    }
  }

  for (const host of ofKind(resources, 'RuntimeHost')) {
    const gw = host.value.spec.runtimes.openclaw?.gateway;
    if (gw !== undefined && !gatewayNames.includes(gw)) {
      const guess = didYouMean(gw, gatewayNames);
      report(host, ['spec', 'runtimes', 'openclaw', 'gateway'], 'dangling-reference', `no Gateway named "${gw}"`, guess ? `did you mean "${guess}"?` : 'add the Gateway resource or fix the name');
    }
  }

  for (const g of gateways) {
    const url = g.value.spec.url;
    const host = /^wss?:\/\/(\[[^\]]+\]|[^:/]+)/.exec(url)?.[1] ?? '';
    if (url.startsWith('ws://') && !['127.0.0.1', 'localhost', '[::1]'].includes(host) && !host.startsWith('127.')) {
      report(g, ['spec', 'url'], 'insecure-transport', 'plain ws:// to a non-loopback host sends the gateway token unencrypted', 'use wss:// (optionally with tls.fingerprint256)', 'value', 'warning');
    }
  }

  // Policies: packs named in clawops.yaml, and the rules exceptions waive.
  const { packs } = await builtinPacks(schemas);
  const repoPolicies = new Map(ofKind(resources, 'Policy').map((p) => [p.name, ruleIdsOf(p.value)]));
  const policyRules = (name: string): ReadonlySet<string> | undefined => repoPolicies.get(name) ?? packs.get(name)?.ruleIds;
  const policyNames = [...new Set([...repoPolicies.keys(), ...packs.keys()])];
  (config?.spec.policies ?? []).forEach((name, i) => {
    if (!policyRules(name)) {
      const guess = didYouMean(name, policyNames);
      out.push({ severity: 'error', code: 'dangling-reference', file: 'clawops.yaml', ...(configLocate?.(['spec', 'policies', i]) ?? {}), resource: 'Repository', field: `spec.policies[${i}]`, message: `no policy pack or Policy named "${name}"`, hint: guess ? `did you mean "${guess}"?` : `built-in packs: ${[...packs.keys()].join(', ')}` });
    }
  });
  const approverGroups = Object.keys(config?.spec.approvers ?? {});
  // A built-in pack gates on groups the repo must define; without them its gated changes wait forever.
  (config?.spec.policies ?? []).forEach((name, i) => {
    if (repoPolicies.has(name)) return;
    const teams = new Set((packs.get(name)?.value.spec.rules ?? []).flatMap((r) => r.approvals?.teams ?? []));
    const missing = [...teams].filter((t) => !approverGroups.includes(t)).sort();
    if (config && missing.length) {
      out.push({ severity: 'warning', code: 'dangling-reference', file: 'clawops.yaml', ...(configLocate?.(['spec', 'policies', i]) ?? {}), resource: 'Repository', field: `spec.policies[${i}]`, message: `pack ${name} asks for approvals from ${missing.map((t) => `"${t}"`).join(', ')}, which spec.approvers does not define`, hint: `add them under spec.approvers (e.g. \`${missing[0]}: { githubTeam: org/team }\`), or its gated changes can only be applied with --break-glass` });
    }
  });
  for (const p of ofKind(resources, 'Policy')) {
    (p.value.spec.rules ?? []).forEach((rule, i) =>
      (rule.approvals?.teams ?? []).forEach((team, j) => {
        if (config && !approverGroups.includes(team)) {
          const guess = didYouMean(team, approverGroups);
          report(p, ['spec', 'rules', i, 'approvals', 'teams', j], 'dangling-reference', `no approver group "${team}" in clawops.yaml`, guess ? `did you mean "${guess}"?` : 'define it under spec.approvers in clawops.yaml');
        }
      }),
    );
  }
  const allLabels = [...resources.map((r) => r.value.metadata.labels ?? {}), ...agents.map((a) => a.labels), ...input.broken.map((b) => b.labels)];
  for (const ex of ofKind(resources, 'PolicyException')) {
    if (!allLabels.some((l) => matchesSelector(ex.value.spec.scope, l))) {
      report(ex, ['spec', 'scope'], 'selector-matches-nothing', `scope ${formatSelector(ex.value.spec.scope)} matches no resource`, 'check the labels of the resources this exception should cover');
    }
    const [policy = '', rule = ''] = ex.value.spec.rule.split('/');
    const rules = policyRules(policy);
    if (!rules) {
      const guess = didYouMean(policy, policyNames);
      report(ex, ['spec', 'rule'], 'dangling-reference', `no policy named "${policy}"`, guess ? `did you mean "${guess}/${rule}"?` : `known policies: ${policyNames.join(', ')}`);
    } else if (!rules.has(rule)) {
      const guess = didYouMean(rule, rules);
      report(ex, ['spec', 'rule'], 'dangling-reference', `policy ${policy} has no rule "${rule}"`, guess ? `did you mean "${policy}/${guess}"?` : `its rules: ${[...rules].join(', ')}`);
    }
  }

  // Secrets: every secretRef needs its encrypted file.
  const secretExists = new Map<string, boolean>();
  const hasSecret = async (name: string) => {
    let ok = secretExists.get(name);
    if (ok === undefined) {
      ok = await access(join(root, SECRET_NAME_FILE(name))).then(() => true, () => false);
      secretExists.set(name, ok);
    }
    return ok;
  };
  for (const r of resources) {
    for (const ref of findSecretRefs(r.value)) {
      if (!(await hasSecret(ref.name))) {
        report(r, ref.path, 'dangling-reference', `secret "${ref.name}" does not exist (no ${SECRET_NAME_FILE(ref.name)})`, `create it with \`clawops secrets set ${ref.name}\`, which reads the value from stdin`);
      }
    }
  }
  if (config) {
    for (const ref of findSecretRefs(config)) {
      if (!(await hasSecret(ref.name))) {
        out.push({ severity: 'error', code: 'dangling-reference', file: 'clawops.yaml', ...(configLocate?.(ref.path) ?? {}), resource: 'Repository', field: fieldPath(ref.path), message: `secret "${ref.name}" does not exist (no ${SECRET_NAME_FILE(ref.name)})`, hint: `create it with \`clawops secrets set ${ref.name}\`, which reads the value from stdin` });
      }
    }
  }
  return out;
}
