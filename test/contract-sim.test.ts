/**
 * The gateway contract (fleet/contract/gateway-contract.ts) against the simulator (fleet/sim/):
 * the same suite the real gateway passes, so benchmarks can stand the simulator in for it.
 * A second gateway in the same simulator checks that gateways do not share state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineGatewayContract } from '../fleet/contract/gateway-contract.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { AuthError } from '../fleet/openclaw/errors.ts';
import { OpenClawGateway } from '../fleet/openclaw/gateway-api.ts';
import { startSimulatedGateways, type GatewaySimulator } from '../fleet/sim/server.ts';

let sim: GatewaySimulator | undefined;

beforeAll(async () => {
  sim = await startSimulatedGateways(2, { restartDelayMs: 100, restartDownMs: 300 });
});

afterAll(async () => {
  await sim?.close();
});

function gateway(i: number) {
  const gw = sim?.gateways[i];
  if (!gw) throw new Error('the simulator did not start');
  return gw;
}

defineGatewayContract('simulator', () => gateway(0));

describe('simulator isolation', () => {
  it('keeps each simulated gateway’s config and token to itself', async () => {
    const device = generateDeviceIdentity();
    const [a, b] = [gateway(0), gateway(1)];
    const err = await GatewayClient.connect({ url: b.url, token: a.token, device, scopes: ['operator.read'], reconnect: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    const client = await GatewayClient.connect({ url: b.url, token: b.token, device, scopes: ['operator.admin'], reconnect: false });
    try {
      const api = new OpenClawGateway(client);
      const snap = await api.configGet();
      await api.configPatch({ patch: { agents: { ownership: 'explicit', entries: { solo: { name: 'Solo' } } } }, baseHash: snap.hash });
      expect(((await api.configGet()).sourceConfig.agents as { entries: Record<string, unknown> }).entries.solo).toEqual({ name: 'Solo' });
      // Gateway 0 never saw it.
      const other = await GatewayClient.connect({ url: a.url, token: a.token, device, scopes: ['operator.read'], reconnect: false });
      const entries = ((await new OpenClawGateway(other).configGet()).sourceConfig.agents as { entries: Record<string, unknown> }).entries;
      await other.close();
      expect(entries.solo).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});

describe('simulator handshake checks the client does not exercise', () => {
  it('refuses a device signature made with another key', async () => {
    const [a, b] = [generateDeviceIdentity(), generateDeviceIdentity()];
    const forged = { ...a, privateKey: b.privateKey };
    const err = await GatewayClient.connect({ url: gateway(1).url, token: gateway(1).token, device: forged, scopes: ['operator.read'], reconnect: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).reason).toBe('DEVICE_AUTH_SIGNATURE_INVALID');
  });

  it('refuses a device token presented by another device', async () => {
    const owner = await GatewayClient.connect({ url: gateway(1).url, token: gateway(1).token, device: generateDeviceIdentity(), scopes: ['operator.read'], reconnect: false });
    const deviceToken = owner.hello.auth?.deviceToken ?? '';
    await owner.close();
    expect(deviceToken).not.toBe('');
    const err = await GatewayClient.connect({ url: gateway(1).url, deviceToken, device: generateDeviceIdentity(), scopes: ['operator.read'], reconnect: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).reason).toBe('AUTH_DEVICE_TOKEN_MISMATCH');
  });
});

describe('simulator drift hook', () => {
  it('announces a hand edit with config.changed and journals it as an external edit', async () => {
    const client = await GatewayClient.connect({ url: gateway(1).url, token: gateway(1).token, device: generateDeviceIdentity(), scopes: ['operator.admin'], reconnect: false });
    try {
      const api = new OpenClawGateway(client);
      const before = await api.configGet();
      const seen = new Promise<string>((resolve) => api.onConfigChanged((e) => resolve(e.hash)));
      expect(gateway(1).editConfigExternally({ agents: { entries: { main: { name: 'Edited by hand' } } } })).toEqual(['agents.entries.main.name']);
      const after = await api.configGet();
      expect(after.hash).not.toBe(before.hash);
      expect(await seen).toBe(after.hash);
      const [latest] = (await api.changesList({ limit: 1 })).entries;
      expect(latest).toMatchObject({ kind: 'external-edit', source: 'external', changedPaths: ['agents.entries.main.name'] });
    } finally {
      await client.close();
    }
  });
});
