/**
 * The throw-away fleet repo `npm start` works on: a git checkout of examples/fleet with its
 * Gateways pointed at the gateways just started, plus a fresh audit signing key and the
 * allowed-signers file that `clawops audit verify` checks it against. The repo's own `.git`
 * holds the `clawops/audit` state branch, as it would in a real fleet repo without a remote.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signerFromKeyFile } from '../../reconciler/git/signing-key.ts';

export interface DemoRepo {
  /** The fleet repo (a git checkout). */
  readonly dir: string;
  readonly signingKeyFile: string;
  readonly allowedSignersFile: string;
  /** Rewrites a file of the repo (path relative to its root); throws when `from` is not in it. */
  edit(file: string, from: string, to: string): void;
  /** Runs git in the repo; identity and signing settings of the user's own git config stay out of it. */
  git(args: readonly string[]): string;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Demo Operator',
  GIT_AUTHOR_EMAIL: 'operator@example.com',
  GIT_COMMITTER_NAME: 'Demo Operator',
  GIT_COMMITTER_EMAIL: 'operator@example.com',
};

export async function makeDemoRepo(parent: string, example: string, urls: Readonly<Record<'prod-eu' | 'prod-us', string>>): Promise<DemoRepo> {
  const dir = join(parent, 'fleet');
  cpSync(example, dir, { recursive: true });
  const edit = (file: string, from: string, to: string) => {
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}; scripts/start.ts must follow the example`);
    writeFileSync(path, text.replace(from, to));
  };
  edit('gateways/prod-eu.yaml', 'url: ws://127.0.0.1:18789', `url: ${urls['prod-eu']}`);
  edit('gateways/prod-us.yaml', 'url: ws://127.0.0.1:18790', `url: ${urls['prod-us']}`);
  // No resource of the example reverts drift (its gateways propose and alert); one agent shows that mode.
  edit('agents/support/kb-curator.yaml', '  gateway: prod-eu\n', '  gateway: prod-eu\n  drift: { mode: revert }\n');
  writeFileSync(join(dir, '.gitignore'), '# Local to this machine (what `clawops init` ignores).\n.clawops/\n');

  const git = (args: readonly string[]) =>
    execFileSync('git', ['-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: parent, GIT_CONFIG_NOSYSTEM: '1', ...GIT_ENV },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  git(['init', '-q']);
  git(['add', '-A']);
  git(['commit', '-qm', 'The Acme example fleet']);

  // Ed25519 in PKCS#8 PEM, which clawops signs with as it does with an OpenSSH key: no ssh-keygen needed.
  const signingKeyFile = join(parent, 'audit-signing-key.pem');
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(signingKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const signer = await signerFromKeyFile(signingKeyFile);
  const allowedSignersFile = join(parent, 'allowed_signers');
  writeFileSync(allowedSignersFile, `clawops@localhost namespaces="git" ${signer.publicKey}\n`);
  return { dir, signingKeyFile, allowedSignersFile, edit, git };
}
