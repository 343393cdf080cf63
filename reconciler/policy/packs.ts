/**
 * The built-in policy packs shipped in `policies/` (one Policy document per file, named after the
 * pack), checked against the Policy schema like any repo file. Repos opt in from clawops.yaml
 * (`policies: [baseline]`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { DEFAULT_LIMITS } from '../load/limits.ts';
import { parseYamlFile, type ParsedDocument } from '../load/parse-yaml-file.ts';
import type { SchemaRegistry } from '../load/schema-validator.ts';
import { Policy } from '../model/kinds.ts';
import { packageRoot } from '../package-root.ts';
import type { PolicySource } from './rule-set.ts';

export interface PolicyPack extends PolicySource {
  readonly version?: string;
  readonly ruleIds: ReadonlySet<string>;
}

export const ruleIdsOf = (p: PolicySource['value']): Set<string> => new Set([...(p.spec.rules ?? []), ...(p.spec.stateRules ?? [])].map((r) => r.id));

/** A parsed document as a policy, when it is a Policy that passes its schema (problems go to `diagnostics`). */
export function policyFromDocument(file: string, doc: ParsedDocument, schemas: SchemaRegistry, diagnostics: Diagnostic[]): PolicyPack | undefined {
  const v = doc.value as { kind?: unknown; metadata?: { name?: unknown } } | null;
  if (v?.kind !== 'Policy') return undefined;
  const problems = schemas.check(Policy, v, { file, resource: `Policy/${String(v.metadata?.name)}`, locator: doc.locator });
  diagnostics.push(...problems);
  if (problems.some((d) => d.severity === 'error')) return undefined;
  const value = v as PolicySource['value'];
  const version = value.metadata.labels?.['clawops.dev/pack-version'];
  return { name: value.metadata.name, file, value, locator: doc.locator, ruleIds: ruleIdsOf(value), ...(version ? { version } : {}) };
}

/** Policy documents of the YAML files directly in `dir` (the built-in packs). */
async function readPolicyFiles(dir: string, relativeTo: string, schemas: SchemaRegistry): Promise<{ policies: PolicyPack[]; diagnostics: Diagnostic[] }> {
  const policies: PolicyPack[] = [];
  const diagnostics: Diagnostic[] = [];
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  for (const f of names) {
    const file = `${relativeTo}${f}`;
    const parsed = parseYamlFile(file, await readFile(join(dir, f)), DEFAULT_LIMITS);
    diagnostics.push(...parsed.diagnostics);
    for (const doc of parsed.documents) {
      const policy = policyFromDocument(file, doc, schemas, diagnostics);
      if (policy) policies.push(policy);
    }
  }
  return { policies, diagnostics };
}

let cached: Promise<{ packs: Map<string, PolicyPack>; diagnostics: Diagnostic[] }> | undefined;

/** The packs ship with clawops and never change while it runs: read and checked once per process. */
export function builtinPacks(schemas: SchemaRegistry): Promise<{ packs: Map<string, PolicyPack>; diagnostics: Diagnostic[] }> {
  cached ??= readPolicyFiles(join(packageRoot(), 'policies'), 'policies/', schemas).then(({ policies, diagnostics }) => ({
    packs: new Map(policies.map((p) => [p.name, p])),
    diagnostics,
  }));
  return cached;
}
