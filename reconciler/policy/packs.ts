/**
 * The built-in policy packs shipped in `policies/` (one Policy document per file, named after the
 * pack). Repos opt in from clawops.yaml (`policies: [baseline]`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../package-root.ts';
import { DEFAULT_LIMITS } from '../load/limits.ts';
import { parseYamlFile } from '../load/parse-yaml-file.ts';

export interface PolicyPack {
  readonly name: string;
  readonly file: string;
  readonly value: unknown;
  readonly ruleIds: ReadonlySet<string>;
}

/** Reads the packs afresh on each call; they are a few small files and tests may load many repos. */
export async function builtinPacks(): Promise<Map<string, PolicyPack>> {
  const dir = join(packageRoot(), 'policies');
  const packs = new Map<string, PolicyPack>();
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.yaml')).sort();
  for (const f of names) {
    const parsed = parseYamlFile(`policies/${f}`, await readFile(join(dir, f)), DEFAULT_LIMITS);
    for (const doc of parsed.documents) {
      const v = doc.value as { metadata?: { name?: string }; spec?: { rules?: Array<{ id: string }>; stateRules?: Array<{ id: string }> } };
      const name = v.metadata?.name;
      if (!name) continue;
      const ids = [...(v.spec?.rules ?? []), ...(v.spec?.stateRules ?? [])].map((r) => r.id);
      packs.set(name, { name, file: `policies/${f}`, value: v, ruleIds: new Set(ids) });
    }
  }
  return packs;
}
