/**
 * Turns an import plan into the exact files to write: rendered YAML (with a schema modeline when
 * the repo vendors the schemas, as `clawops init` does), workspace file contents, and secrets
 * encrypted to the repo's recipients. Nothing is written here.
 */
import { access } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { schemaFileName } from '../model/schema-files.ts';
import { encryptSecret, secretFile } from '../secrets/age-store.ts';
import type { ImportPlan, PlannedResource } from './plan-import.ts';
import { renderResource } from './render-yaml.ts';
import type { OutputFile } from './write-all.ts';

export interface ImportOutput {
  readonly files: readonly (OutputFile & { readonly what: string })[];
  /** Secrets that could not be stored (no recipients): the user stores them by hand. */
  readonly unstoredSecrets: readonly string[];
}

const toPosix = (p: string) => p.split(sep).join('/');

async function modelineFor(root: string, target: string, r: PlannedResource): Promise<string | undefined> {
  const schema = join(root, '.clawops', 'schemas', schemaFileName(r.kind));
  return (await access(schema).then(() => true, () => false)) ? toPosix(relative(dirname(target), schema)) : undefined;
}

export async function importOutput(plan: ImportPlan, opts: { root: string; out: string; recipients: readonly string[] }): Promise<ImportOutput> {
  const files: Array<OutputFile & { what: string }> = [];
  for (const r of plan.resources) {
    const path = join(opts.out, ...r.file.split('/'));
    const modeline = await modelineFor(opts.root, path, r);
    files.push({ path, content: renderResource(r, modeline ? { modeline } : {}), what: `${r.kind} ${r.name}` });
  }
  for (const c of plan.contents) files.push({ path: join(opts.out, ...c.file.split('/')), content: c.content, what: 'workspace file' });
  const unstoredSecrets: string[] = [];
  for (const s of plan.secrets) {
    if (!opts.recipients.length) {
      unstoredSecrets.push(s.name);
      continue;
    }
    files.push({
      path: secretFile(opts.root, s.name),
      content: await encryptSecret(s.value, opts.recipients),
      what: s.kind === 'gateway-token' ? 'gateway token (encrypted)' : 'redaction placeholder (encrypted)',
    });
  }
  return { files, unstoredSecrets };
}
