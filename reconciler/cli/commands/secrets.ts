/** `clawops secrets set|get|list|rotate`: age-encrypted values under `secrets/`. */
import type { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { loadRepoConfig } from '../../load/load-repo.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import {
  checkSecretName,
  decryptSecret,
  encryptSecret,
  listSecrets,
  loadIdentities,
  readSecret,
  secretFile,
  SecretError,
  writeSecretFiles,
} from '../../secrets/age-store.ts';
import type { CommandContext } from '../program.ts';

interface Common {
  readonly repo: string;
  readonly identity?: string | undefined;
}

export async function runSecretsSet(name: string, opts: Common, ports: Ports): Promise<ExitCode> {
  checkSecretName(name);
  const { root, config } = await loadRepoConfig(opts.repo);
  if (ports.stdinIsTTY) ports.err.write(`Enter the value of "${name}", then Ctrl-D:\n`);
  // One trailing newline is how shells end `echo` and here-strings; it is not part of the value.
  const value = (await ports.readStdin()).replace(/\r?\n$/, '');
  if (!value) throw new SecretError(`no value on standard input for "${name}"; pipe it in, e.g. \`printf %s "$TOKEN" | clawops secrets set ${name}\``, { name });
  ports.redactor.add(value, name);
  const armored = await encryptSecret(value, config.spec.secrets.recipients);
  await writeSecretFiles(root, [{ name, armored }]);
  ports.err.write(`✓ secrets/${name}.age encrypted to ${config.spec.secrets.recipients.length} recipient${config.spec.secrets.recipients.length === 1 ? '' : 's'}\n`);
  return 0;
}

export async function runSecretsGet(name: string, opts: Common, ports: Ports): Promise<ExitCode> {
  const { root } = await loadRepoConfig(opts.repo);
  const ids = await loadIdentities({ identityFile: opts.identity, env: ports.env, redactor: ports.redactor });
  const value = await readSecret(root, name, ids, ports.redactor);
  // The one place a secret is meant to be printed: straight to stdout, past the redactor.
  ports.revealSecret(value + (ports.out.isTTY ? '\n' : ''));
  return 0;
}

export async function runSecretsList(opts: Common & { json: boolean }, ports: Ports): Promise<ExitCode> {
  const { root } = await loadRepoConfig(opts.repo);
  const secrets = await listSecrets(root);
  if (opts.json) ports.out.write(JSON.stringify({ formatVersion: 1, secrets }, null, 2) + '\n');
  else if (secrets.length === 0) ports.err.write('no secrets yet; add one with `clawops secrets set NAME`\n');
  else {
    const width = Math.max(...secrets.map((s) => s.name.length));
    for (const s of secrets) ports.out.write(`${s.name.padEnd(width)}  ${s.recipients} recipient${s.recipients === 1 ? '' : 's'}  ${s.modified}\n`);
  }
  return 0;
}

/** Re-encrypts every secret to the recipients now in clawops.yaml; all files change or none. */
export async function runSecretsRotate(opts: Common, ports: Ports): Promise<ExitCode> {
  const { root, config } = await loadRepoConfig(opts.repo);
  const ids = await loadIdentities({ identityFile: opts.identity, env: ports.env, redactor: ports.redactor });
  const secrets = await listSecrets(root);
  const rewritten: Array<{ name: string; armored: string }> = [];
  for (const s of secrets) {
    const value = await decryptSecret(s.name, await readFile(secretFile(root, s.name), 'utf8'), ids, ports.redactor);
    rewritten.push({ name: s.name, armored: await encryptSecret(value, config.spec.secrets.recipients) });
  }
  await writeSecretFiles(root, rewritten);
  ports.err.write(`✓ re-encrypted ${rewritten.length} secret${rewritten.length === 1 ? '' : 's'} to ${config.spec.secrets.recipients.length} recipient${config.spec.secrets.recipients.length === 1 ? '' : 's'}\n`);
  return 0;
}

export function registerSecrets(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  const { ports } = ctx;
  const secrets = program.command('secrets').description('age-encrypted secrets in secrets/ (values are read from stdin, never from arguments)');
  const identity = (c: Command) => c.option('--identity <file>', 'age identity file (default: CLAWOPS_AGE_IDENTITY)');
  secrets
    .command('set')
    .description('encrypt the value on stdin to the recipients in clawops.yaml')
    .argument('<name>')
    .addOption(repoOption())
    .action(async (name: string, o: Common) => {
      ctx.exitCode = await runSecretsSet(name, o, ports);
    });
  identity(secrets.command('get').description('decrypt a secret and print it').argument('<name>').addOption(repoOption())).action(async (name: string, o: Common) => {
    ctx.exitCode = await runSecretsGet(name, o, ports);
  });
  secrets
    .command('list')
    .description('list the secrets in the repo')
    .addOption(repoOption())
    .addOption(jsonOption())
    .action(async (o: Common & { json: boolean }) => {
      ctx.exitCode = await runSecretsList(o, ports);
    });
  identity(secrets.command('rotate').description('re-encrypt every secret to the current recipients').addOption(repoOption())).action(async (o: Common) => {
    ctx.exitCode = await runSecretsRotate(o, ports);
  });
}
