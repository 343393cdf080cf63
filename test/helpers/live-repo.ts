/**
 * A throwaway fleet repo whose Gateways point at live gateways: clawops.yaml with a fresh age
 * recipient, one Gateway file each, the tokens and clawops' device key as age secrets. Commands
 * run against it with `env` (which carries the age identity).
 */
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { exportDeviceKey, generateDeviceIdentity, type DeviceIdentity } from '../../fleet/openclaw/device-identity.ts';
import { DEVICE_KEY_SECRET } from '../../reconciler/live/gateway-access.ts';
import { encryptSecret } from '../../reconciler/secrets/age-store.ts';

export interface LiveGatewaySpec {
  readonly name: string;
  readonly url: string;
  readonly token: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface LiveRepo {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly device: DeviceIdentity;
  readonly recipient: string;
}

export async function makeLiveRepo(gateways: readonly LiveGatewaySpec[], opts: { device?: DeviceIdentity; withDeviceKey?: boolean } = {}): Promise<LiveRepo> {
  const dir = mkdtempSync(join(tmpdir(), 'clawops-live-repo-'));
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const device = opts.device ?? generateDeviceIdentity();
  writeFileSync(
    join(dir, 'clawops.yaml'),
    `apiVersion: clawops.dev/v1\nkind: Repository\nspec:\n  secrets:\n    recipients: [${recipient}]\n`,
  );
  mkdirSync(join(dir, 'gateways'));
  mkdirSync(join(dir, 'secrets'));
  for (const g of gateways) {
    const labels = Object.entries(g.labels ?? {}).map(([k, v]) => `${k}: ${v}`);
    writeFileSync(
      join(dir, 'gateways', `${g.name}.yaml`),
      [
        'apiVersion: clawops.dev/v1',
        'kind: Gateway',
        'metadata:',
        `  name: ${g.name}`,
        ...(labels.length ? [`  labels: { ${labels.join(', ')} }`] : []),
        'spec:',
        `  url: ${g.url}`,
        `  auth: { token: { secretRef: ${g.name}-token } }`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'secrets', `${g.name}-token.age`), await encryptSecret(g.token, [recipient]));
  }
  if (opts.withDeviceKey ?? true) writeFileSync(join(dir, 'secrets', `${DEVICE_KEY_SECRET}.age`), await encryptSecret(exportDeviceKey(device), [recipient]));
  return { dir, env: { CLAWOPS_AGE_IDENTITY: identity }, device, recipient };
}

/** `makeLiveRepo` for one test file: every repo it makes is removed after the file's tests. */
export function liveRepos(): typeof makeLiveRepo {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return async (...args) => {
    const r = await makeLiveRepo(...args);
    dirs.push(r.dir);
    return r;
  };
}
