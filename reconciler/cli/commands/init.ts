/** `clawops init [DIR]`: scaffold a fleet repo that validates clean. Never overwrites anything. */
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ClawopsError } from '../../errors.ts';
import { renderSchemaFiles } from '../../model/schema-files.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import { encryptSecret, writeSecretFiles } from '../../secrets/age-store.ts';
import { SCAFFOLD } from './init-scaffold.ts';

export class InitConflictError extends ClawopsError<{ existing: string[] }> {
  readonly code = 'INIT_CONFLICT';
}

export const IDENTITY_FILE = '.clawops/age-identity.txt';

export async function runInit(opts: { dir: string }, ports: Ports): Promise<ExitCode> {
  const root = resolve(ports.cwd, opts.dir);
  const files = new Map<string, string>(SCAFFOLD);
  for (const [name, text] of renderSchemaFiles()) files.set(`.clawops/schemas/${name}`, text);
  const planned = [...files.keys(), IDENTITY_FILE, 'secrets/gateway-token.age'];
  const existing: string[] = [];
  for (const p of planned) if (await access(join(root, p)).then(() => true, () => false)) existing.push(p);
  if (existing.length) {
    throw new InitConflictError(`${opts.dir} already has ${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ` and ${existing.length - 3} more` : ''}; clawops init never overwrites files (pick an empty folder)`, { existing });
  }

  const identity = await generateX25519Identity();
  ports.redactor.add(identity, 'age-identity');
  const recipient = await identityToRecipient(identity);
  for (const [path, content] of files) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content.replace('{{RECIPIENT}}', recipient), { flag: 'wx' });
  }
  const stamp = ports.now().toISOString();
  await writeFile(join(root, IDENTITY_FILE), `# created: ${stamp}\n# public key: ${recipient}\n${identity}\n`, { flag: 'wx', mode: 0o600 });
  // A placeholder token so the example Gateway validates; replace it with the real one.
  await writeSecretFiles(root, [{ name: 'gateway-token', armored: await encryptSecret('replace-with-the-gateway-token', [recipient]) }]);
  const readme = join(root, 'README.md');
  if (!(await readFile(readme).then(() => true, () => false))) {
    await writeFile(readme, `# Fleet repo\n\nDesired state of our OpenClaw gateways and agent runtimes, managed by clawops.\n\n- \`clawops validate\` checks every resource.\n- \`clawops secrets set NAME < value\` stores an encrypted secret.\n`, { flag: 'wx' });
  }
  ports.err.write(
    [
      `✓ fleet repo created in ${opts.dir}`,
      `  age identity: ${join(opts.dir, IDENTITY_FILE)} (git-ignored). Move it to your secret store and set CLAWOPS_AGE_IDENTITY.`,
      `  next: clawops secrets set gateway-token --repo ${opts.dir}   (the value is read from stdin)`,
      `        clawops validate --repo ${opts.dir}`,
      '',
    ].join('\n'),
  );
  return 0;
}
