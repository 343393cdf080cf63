/**
 * The bundled example fleet (examples/fleet), copied to a temp dir with its two Gateways pointed
 * at real test gateways and its gateway token re-encrypted to theirs. Commands run against it
 * with `env` (the demo age identity, a private state dir).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptSecret } from '../../reconciler/secrets/age-store.ts';
import { ROOT } from './cli.ts';

export const DEMO_IDENTITY = join(ROOT, 'examples', 'demo-age-identity.txt');
const DEMO_RECIPIENT = 'age17c6588uu7wupqe06087gyevzcvgd5wn4r5dumkeask8tlpvmff4q0um4xx';

export interface ExampleFleet {
  readonly dir: string;
  readonly env: Record<string, string>;
  /** Rewrites a file of the copy (path relative to the repo root). */
  edit(file: string, change: (text: string) => string): void;
  remove(): void;
}

/**
 * `policies: false` drops the example's guardrails (the baseline pack and its own Policy), for
 * tests of apply's mechanics: under baseline, creating an agent waits for approval.
 */
export async function exampleFleet(urls: { eu: string; us: string }, token: string, opts: { policies?: boolean } = {}): Promise<ExampleFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'clawops-example-'));
  cpSync(join(ROOT, 'examples', 'fleet'), dir, { recursive: true });
  const edit = (file: string, change: (text: string) => string) => writeFileSync(join(dir, file), change(readFileSync(join(dir, file), 'utf8')));
  if (opts.policies === false) {
    edit('clawops.yaml', (t) => t.replace('policies: [baseline]', 'policies: []'));
    rmSync(join(dir, 'policies'), { recursive: true });
  }
  edit('gateways/prod-eu.yaml', (t) => t.replace('url: ws://127.0.0.1:18789', `url: ${urls.eu}`));
  edit('gateways/prod-us.yaml', (t) => t.replace('url: ws://127.0.0.1:18790', `url: ${urls.us}`));
  writeFileSync(join(dir, 'secrets', 'gateway-token.age'), await encryptSecret(token, [DEMO_RECIPIENT]));
  return {
    dir,
    env: { CLAWOPS_AGE_IDENTITY: DEMO_IDENTITY, CLAWOPS_STATE_DIR: join(dir, '.state') },
    edit,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
