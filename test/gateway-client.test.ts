/**
 * GatewayClient under faults, against the real gateway `a` behind a misbehaving proxy: hung
 * answers, dropped sockets, TLS pinning, concurrent requests answered out of order.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { ConnectionLostError, GatewayTimeoutError, GatewayUnreachableError } from '../fleet/openclaw/errors.ts';
import { OpenClawGateway } from '../fleet/openclaw/gateway-api.ts';
import { startFaultProxy, WRONG_FINGERPRINT, type FaultProxy } from '../fleet/harness/fault-proxy.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { DROP, helloOk, startFakeGateway } from './helpers/fake-gateway.ts';
import { freePort } from '../fleet/harness/free-port.ts';
import { ConfigSchemaCache } from '../fleet/openclaw/config-schema-cache.ts';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const device = generateDeviceIdentity();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function proxied(opts: { tls?: boolean } = {}): Promise<FaultProxy> {
  const proxy = await startFaultProxy(sharedGateway('a'), opts);
  cleanup.push(() => proxy.close());
  return proxy;
}

async function connect(url: string, extra: Partial<Parameters<typeof GatewayClient.connect>[0]> = {}): Promise<GatewayClient> {
  const client = await GatewayClient.connect({ url, token: sharedGateway('a').token, device, scopes: ['operator.admin'], ...extra });
  cleanup.push(() => client.close());
  return client;
}

describe('GatewayClient', () => {
  it('matches concurrent answers to their requests whatever order they arrive in', async () => {
    const gw = new OpenClawGateway(await connect(sharedGateway('a').url));
    // The 2 MB schema is answered after the small reads sent behind it.
    const order: string[] = [];
    const track = <T>(name: string, p: Promise<T>) => p.then((v) => (order.push(name), v));
    const [schema, health, identity, snapshot] = await Promise.all([
      track('schema', gw.configSchema()),
      track('health', gw.health()),
      track('identity', gw.identity()),
      track('config', gw.configGet()),
    ]);
    expect(schema.schema).toHaveProperty('properties');
    expect(health.ok).toBe(true);
    expect(identity.deviceId).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshot.hash).toEqual(expect.any(String));
    expect(order).toHaveLength(4);
  });

  it('times out a request the gateway never answers, drops the wedged socket and recovers', async () => {
    const proxy = await proxied();
    const client = await connect(proxy.url, { reconnect: { initialDelayMs: 50, giveUpAfterMs: 20_000 } });
    const reconnected = new Promise<void>((resolve) => client.onReconnect(() => resolve()));
    proxy.stall();
    const err = await client.request('config.get', {}, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayTimeoutError);
    expect((err as GatewayTimeoutError).method).toBe('config.get');
    proxy.resume();
    await reconnected;
    expect(proxy.connections()).toBe(2);
    await expect(new OpenClawGateway(client).configGet()).resolves.toHaveProperty('hash');
  });

  it('after a dropped connection re-sends safe reads and fails writes whose outcome is unknown', async () => {
    const proxy = await proxied();
    const client = await connect(proxy.url, { reconnect: { initialDelayMs: 50 } });
    const gw = new OpenClawGateway(client);
    const { hash } = await gw.configGet();
    proxy.stall(); // keep both requests in flight until the drop
    const read = gw.configGet();
    const write = gw.configPatch({ patch: { agents: { entries: { main: {} } } }, baseHash: hash }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    proxy.dropAll();
    proxy.resume();
    await expect(read).resolves.toHaveProperty('hash');
    expect(await write).toBeInstanceOf(ConnectionLostError);
    expect(client.state).toBe('open');
  });

  it('waits for a gateway that is not listening yet when asked to', async () => {
    const port = await freePort();
    const late = net.createServer((s) => {
      const up = net.connect(sharedGateway('a').port, '127.0.0.1');
      s.pipe(up).pipe(s);
      s.on('error', () => up.destroy());
      up.on('error', () => s.destroy());
    });
    setTimeout(() => late.listen(port, '127.0.0.1'), 700);
    cleanup.push(() => new Promise((r) => late.close(() => r())));
    const client = await connect(`ws://127.0.0.1:${port}`, { awaitListening: true, startupTimeoutMs: 10_000 });
    expect(client.hello.protocol).toBe(4);
    // Without awaitListening a closed port is an immediate, typed failure.
    const closed = await freePort();
    await expect(connect(`ws://127.0.0.1:${closed}`)).rejects.toBeInstanceOf(GatewayUnreachableError);
  });

  describe('wss:// with a pinned certificate', () => {
    it('connects when the certificate matches the pin', async () => {
      const proxy = await proxied({ tls: true });
      const client = await connect(proxy.url, { tlsFingerprint256: proxy.fingerprint256 ?? '' });
      expect(client.hello.protocol).toBe(4);
    });

    it('refuses a different certificate before sending the token', async () => {
      const proxy = await proxied({ tls: true });
      const err = await connect(proxy.url, { tlsFingerprint256: WRONG_FINGERPRINT }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayUnreachableError);
      expect((err as Error).message).toContain('does not match the pinned');
      expect(proxy.clientBytes()).not.toContain(sharedGateway('a').token);
      expect(proxy.clientBytes()).not.toContain('"connect"');
    });

    it('refuses a self-signed certificate without a pin', async () => {
      const proxy = await proxied({ tls: true });
      await expect(connect(proxy.url)).rejects.toBeInstanceOf(GatewayUnreachableError);
    });
  });

  it('fetches the 2 MB config schema once per gateway build, from memory or disk after that', async () => {
    const gw = new OpenClawGateway(await connect(sharedGateway('a').url));
    const other = new OpenClawGateway(await connect(sharedGateway('a').url));
    const dir = mkdtempSync(join(tmpdir(), 'clawops-schema-cache-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const cache = new ConfigSchemaCache({ dir });
    const [one, two] = await Promise.all([cache.get(gw), cache.get(other)]);
    expect(cache.fetches).toBe(1);
    expect(two).toBe(one);
    expect(one.schema).toHaveProperty('properties.agents');
    // A later run reads the file instead of the gateway.
    const nextRun = new ConfigSchemaCache({ dir });
    expect(await nextRun.get(gw)).toEqual(one);
    expect(nextRun.fetches).toBe(0);
    // A damaged file is fetched again, not trusted.
    const [file] = readdirSync(dir);
    writeFileSync(join(dir, file!), '{"truncated');
    const afterDamage = new ConfigSchemaCache({ dir });
    expect((await afterDamage.get(gw)).version).toBe(gw.version);
    expect(afterDamage.fetches).toBe(1);
  });

  // Behaviour the real gateway cannot be made to show on demand: a scripted peer stands in.
  describe('against a scripted peer', () => {
    it('keeps the idempotency key when it re-sends a side-effecting call after a lost answer', async () => {
      const keys: unknown[] = [];
      const fake = await startFakeGateway({
        methods: {
          'agent.run': (p) => {
            keys.push((p as { idempotencyKey?: unknown }).idempotencyKey);
            return keys.length === 1 ? DROP : { accepted: true };
          },
        },
      });
      cleanup.push(() => fake.close());
      const client = await connect(fake.url, { reconnect: { initialDelayMs: 20 } });
      await expect(client.request('agent.run', { message: 'hi' }, { idempotencyKey: true, retryOnReconnect: true })).resolves.toEqual({ accepted: true });
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
    });

    it('drops a silent session after two missed ticks and reconnects', { timeout: 15_000 }, async () => {
      const fake = await startFakeGateway({
        connect: () => ({ ok: true, payload: helloOk({ policy: { maxPayload: 1 << 20, maxBufferedBytes: 1 << 21, tickIntervalMs: 1_000 } }) }),
        methods: { health: () => ({ ok: true }) },
      });
      cleanup.push(() => fake.close());
      const client = await connect(fake.url, { reconnect: { initialDelayMs: 20 } });
      const started = Date.now();
      await new Promise<void>((resolve) => client.onReconnect(() => resolve()));
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      await expect(client.request('health')).resolves.toEqual({ ok: true });
    });
  });
});
