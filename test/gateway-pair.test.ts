/**
 * `clawops gateway pair` against the shared real gateway `a` (loopback: approved at once), and
 * against a scripted gateway that answers "pairing required" the way a remote gateway does before
 * its operator approves the device.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { exportDeviceKey, generateDeviceIdentity, loadDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { loadRepo } from '../reconciler/load/load-repo.ts';
import { ofKind } from '../reconciler/load/resource.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { readSecret } from '../reconciler/secrets/age-store.ts';
import type { StatusReport } from '../reconciler/status/report.ts';
import { clawops, type CliResult } from './helpers/cli.ts';
import { startFakeGateway, type FakeGateway } from './helpers/fake-gateway.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { liveRepos, type LiveRepo } from './helpers/live-repo.ts';

const repoOf = liveRepos();

const identityOf = (repo: LiveRepo) => repo.env.CLAWOPS_AGE_IDENTITY!;
const secret = (repo: LiveRepo, name: string) => readSecret(repo.dir, name, [identityOf(repo)], new Redactor());
const printed = (r: CliResult) => r.stdout + r.stderr;

describe('clawops gateway pair (real gateway a, loopback)', () => {
  let repo: LiveRepo;
  let gatewayFile: string;
  let first: CliResult;
  beforeAll(async () => {
    const a = sharedGateway('a');
    repo = await repoOf([{ name: 'a', url: a.url, token: a.token }], { withDeviceKey: false });
    gatewayFile = join(repo.dir, 'gateways', 'a.yaml');
    // Comments and spacing that a re-serialising editor would lose or move.
    const original = readFileSync(gatewayFile, 'utf8');
    writeFileSync(gatewayFile, `# Gateway a: the shared test gateway\n${original.replace('  url:', '  # where it listens\n  url:').replace('name: a', 'name: a    # keep this spacing')}`);
    first = await clawops(['gateway', 'pair', 'a', '--repo', repo.dir], { env: repo.env });
  });

  it('creates the device key, pairs, stores the device token and references it from the Gateway YAML', async () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const pem = await secret(repo, 'clawops-device-key');
    const device = loadDeviceIdentity(pem);
    expect(first.stdout).toBe(
      [
        `gateway     a (${sharedGateway('a').url})`,
        `device id   ${device.id}`,
        `public key  ${device.publicKey}`,
        'requests    role operator, scopes operator.admin',
        "✓ created clawops' device key: secrets/clawops-device-key.age (encrypted to 1 recipient; commit it)",
        '✓ paired with a; granted operator.admin',
        '✓ stored the device token: secrets/a-device-token.age',
        '✓ gateways/a.yaml: added spec.auth.deviceToken { secretRef: a-device-token }',
        '',
      ].join('\n'),
    );
    const yaml = readFileSync(gatewayFile, 'utf8');
    expect(yaml).toBe(
      [
        '# Gateway a: the shared test gateway',
        'apiVersion: clawops.dev/v1',
        'kind: Gateway',
        'metadata:',
        '  name: a    # keep this spacing',
        'spec:',
        '  # where it listens',
        `  url: ${sharedGateway('a').url}`,
        '  auth: { token: { secretRef: a-token }, deviceToken: { secretRef: a-device-token } }',
        '',
      ].join('\n'),
    );
    const loaded = await loadRepo(repo.dir);
    expect(loaded.diagnostics).toEqual([]);
    expect(ofKind(loaded.resources, 'Gateway')[0]?.value.spec.auth.deviceToken).toEqual({ secretRef: 'a-device-token' });
  });

  it('the stored device token is the real one: it alone (no shared token) opens a session as this device', async () => {
    const device = loadDeviceIdentity(await secret(repo, 'clawops-device-key'));
    const deviceToken = await secret(repo, 'a-device-token');
    const client = await GatewayClient.connect({ url: sharedGateway('a').url, deviceToken, device, scopes: ['operator.read'], reconnect: false });
    try {
      expect(client.hello.protocol).toBe(4);
    } finally {
      await client.close();
    }
  });

  it('never prints the tokens or the key', async () => {
    const secrets = [await secret(repo, 'a-device-token'), sharedGateway('a').token, (await secret(repo, 'clawops-device-key')).trim()];
    for (const s of secrets) expect(printed(first)).not.toContain(s);
  });

  it('after pairing, status works', async () => {
    const r = await clawops(['status', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(report.gateways[0]).toMatchObject({ name: 'a', reachable: true, version: '2026.9.6' });
    expect(r.code).toBe(0);
  });

  it('pairing again keeps the key and the YAML, and refreshes the token (--json)', async () => {
    const yaml = readFileSync(gatewayFile, 'utf8');
    const keyFile = readFileSync(join(repo.dir, 'secrets', 'clawops-device-key.age'), 'utf8');
    const r = await clawops(['gateway', 'pair', 'a', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(r.code).toBe(0);
    const device = loadDeviceIdentity(await secret(repo, 'clawops-device-key'));
    expect(JSON.parse(r.stdout)).toEqual({
      formatVersion: 1,
      gateway: 'a',
      url: sharedGateway('a').url,
      device: { id: device.id, publicKey: device.publicKey },
      deviceKey: 'repo',
      requestedScopes: ['operator.admin'],
      status: 'paired',
      requestId: null,
      approveCommand: null,
      grantedScopes: ['operator.admin'],
      deviceTokenSecret: 'a-device-token',
      updatedFile: null,
    });
    expect(readFileSync(gatewayFile, 'utf8')).toBe(yaml);
    expect(readFileSync(join(repo.dir, 'secrets', 'clawops-device-key.age'), 'utf8')).toBe(keyFile);
    expect(r.stdout).not.toContain(await secret(repo, 'a-device-token'));
  });
});

describe('clawops gateway pair: other paths', () => {
  it('uses CLAWOPS_DEVICE_KEY when set and creates no key file', async () => {
    const a = sharedGateway('a');
    const repo = await repoOf([{ name: 'a', url: a.url, token: a.token }], { withDeviceKey: false });
    const device = generateDeviceIdentity();
    const r = await clawops(['gateway', 'pair', 'a', '--repo', repo.dir, '--json'], { env: { ...repo.env, CLAWOPS_DEVICE_KEY: exportDeviceKey(device) } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ deviceKey: 'env', device: { id: device.id }, status: 'paired' });
    expect(existsSync(join(repo.dir, 'secrets', 'clawops-device-key.age'))).toBe(false);
    expect(printed(r)).not.toContain('PRIVATE KEY');
  });

  it('a wrong shared token: exit 1, the reason and the fix; nothing stored', async () => {
    const a = sharedGateway('a');
    const repo = await repoOf([{ name: 'a', url: a.url, token: 'not-the-token-of-a' }]);
    const r = await clawops(['gateway', 'pair', 'a', '--repo', repo.dir], { env: repo.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^clawops: a refused the connection \(AUTH_TOKEN_MISMATCH: .*\); check the Gateway's auth\.token secret/);
    expect(existsSync(join(repo.dir, 'secrets', 'a-device-token.age'))).toBe(false);
  });

  it('an unknown Gateway is a usage error', async () => {
    const repo = await repoOf([{ name: 'alpha', url: sharedGateway('a').url, token: 'x-token' }]);
    const r = await clawops(['gateway', 'pair', 'alpah', '--repo', repo.dir], { env: repo.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('clawops: no Gateway named "alpah" in the repo (did you mean "alpha"?)\n');
  });
});

describe('clawops gateway pair: a gateway whose operator has not approved the device yet', () => {
  let fake: FakeGateway;
  let withRequestId = true;
  beforeAll(async () => {
    fake = await startFakeGateway({
      connect: () => ({
        ok: false,
        error: { code: 'NOT_PAIRED', message: 'pairing required', details: { code: 'PAIRING_REQUIRED', ...(withRequestId ? { requestId: 'req-7f3a' } : {}) } },
      }),
    });
  });
  afterAll(() => fake.close());

  it('prints the device and the exact approval command, keeps the key for the re-run, and exits 2', async () => {
    const repo = await repoOf([{ name: 'remote', url: fake.url, token: 'remote-shared-token' }], { withDeviceKey: false });
    const yaml = readFileSync(join(repo.dir, 'gateways', 'remote.yaml'), 'utf8');
    const r = await clawops(['gateway', 'pair', 'remote', '--repo', repo.dir], { env: repo.env });
    expect(r.code).toBe(2);
    const device = loadDeviceIdentity(await secret(repo, 'clawops-device-key'));
    expect(r.stdout).toContain(`device id   ${device.id}\n`);
    expect(r.stdout).toContain(`public key  ${device.publicKey}\n`);
    expect(r.stdout).toContain('\n    openclaw devices approve req-7f3a\n');
    expect(r.stdout).toContain('then run `clawops gateway pair remote` again to finish.');
    expect(existsSync(join(repo.dir, 'secrets', 'remote-device-token.age'))).toBe(false);
    expect(readFileSync(join(repo.dir, 'gateways', 'remote.yaml'), 'utf8')).toBe(yaml);

    // The re-run uses the same key: the approval was granted to it.
    const again = await clawops(['gateway', 'pair', 'remote', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(again.code).toBe(2);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'pending-approval', deviceKey: 'repo', device: { id: device.id }, requestId: 'req-7f3a' });
  });

  it('without a request id it says how to find it', async () => {
    withRequestId = false;
    const repo = await repoOf([{ name: 'remote', url: fake.url, token: 'remote-shared-token' }]);
    const r = await clawops(['gateway', 'pair', 'remote', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ requestId: null, approveCommand: 'openclaw devices list   # then: openclaw devices approve <requestId>' });
  });
});
