/**
 * The fault harness (fleet/harness/fault-proxy.ts, RealGateway.restart) does what reliability tests
 * will rely on: it reads the real gateway's frames correctly, places each fault at the protocol
 * point asked for, and restarts bring back the very same gateway.
 *
 * Everything runs against the shared gateway `a`; the restarts (which need a gateway process of
 * their own) are tested in test/apply-faults.test.ts, on the gateway that file owns.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, WsFrameParser, type FaultProxy, type ParsedFrame } from '../fleet/harness/fault-proxy.ts';
import type { GatewayInfo } from '../fleet/harness/real-gateway.ts';
import { GatewayClient, type GatewayClientOptions } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { ConnectionLostError, GatewayUnreachableError } from '../fleet/openclaw/errors.ts';
import { OpenClawGateway } from '../fleet/openclaw/gateway-api.ts';
import { sharedGateway } from './helpers/gateways.ts';

const device = generateDeviceIdentity();
const run = randomBytes(4).toString('hex');
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function proxyTo(target: GatewayInfo): Promise<FaultProxy> {
  const proxy = await startFaultProxy(target);
  cleanup.push(() => proxy.close());
  return proxy;
}

async function connect(url: string, token: string, extra: Partial<GatewayClientOptions> = {}): Promise<GatewayClient> {
  const client = await GatewayClient.connect({ url, token, device, scopes: ['operator.admin'], ...extra });
  cleanup.push(() => client.close());
  return client;
}

const fastReconnect = { reconnect: { initialDelayMs: 50, maxDelayMs: 250, giveUpAfterMs: 30_000 } } as const;

function reconnected(client: GatewayClient): Promise<void> {
  return new Promise((resolve) => {
    const off = client.onReconnect(() => {
      off();
      resolve();
    });
  });
}

// --- raw WebSocket helpers (the proxy must not depend on how `ws` happens to chunk) ----------------

function encodeFrame(payload: Buffer, o: { opcode?: number; fin?: boolean; mask?: boolean } = {}): Buffer {
  const len = payload.length;
  const extra = len < 126 ? 0 : len < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + extra + (o.mask ? 4 : 0));
  header[0] = ((o.fin ?? true) ? 0x80 : 0) | (o.opcode ?? 1);
  header[1] = (o.mask ? 0x80 : 0) | (extra === 0 ? len : extra === 2 ? 126 : 127);
  if (extra === 2) header.writeUInt16BE(len, 2);
  if (extra === 8) header.writeBigUInt64BE(BigInt(len), 2);
  if (!o.mask) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  key.copy(header, 2 + extra);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([header, body]);
}

const text = (s: string) => Buffer.from(s, 'utf8');

describe('WsFrameParser', () => {
  it('finds every frame whatever the chunking: several per chunk, split anywhere, all length forms, masked or not', () => {
    const big = randomBytes(70_000);
    const close = Buffer.alloc(2);
    close.writeUInt16BE(1012);
    const frames = [
      { opcode: 1, fin: true, payload: text('{"type":"req","id":"r1","method":"health"}'), mask: true },
      { opcode: 1, fin: true, payload: text('x'.repeat(300)), mask: false },
      { opcode: 2, fin: true, payload: big, mask: true },
      { opcode: 1, fin: false, payload: text('{"type":"ev'), mask: false },
      { opcode: 0, fin: true, payload: text('ent","event":"tick"}'), mask: false },
      { opcode: 9, fin: true, payload: Buffer.alloc(0), mask: true },
      { opcode: 8, fin: true, payload: close, mask: false },
    ];
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f.payload, f)));
    for (const size of [1, 2, 3, 7, 125, 4_096, 65_536, stream.length]) {
      const parser = new WsFrameParser();
      const got: ParsedFrame[] = [];
      for (let at = 0; at < stream.length; at += size) got.push(...parser.push(stream.subarray(at, at + size)));
      expect(got.map((f) => [f.opcode, f.fin, f.payload.length]), `chunks of ${size}`).toEqual(frames.map((f) => [f.opcode, f.fin, f.payload.length]));
      got.forEach((f, i) => expect(f.payload.equals(frames[i]!.payload), `frame ${i}, chunks of ${size}`).toBe(true));
      expect(Buffer.concat(got.map((f) => f.raw)).equals(stream)).toBe(true);
    }
  });
});

describe('fault proxy against the real gateway', () => {
  const a = () => sharedGateway('a');

  it('names every request and the response to it; a trigger fires once per matching frame and nth picks one', async () => {
    const proxy = await proxyTo(a());
    const client = await connect(proxy.url, a().token);
    const gw = new OpenClawGateway(client);
    let every = 0;
    const all = proxy.on({ direction: 'to-gateway', method: 'config.get' }, () => void every++, { times: Infinity });
    const second = proxy.on({ direction: 'to-gateway', method: 'config.get', nth: 2 }, () => {});
    const answered = proxy.on({ direction: 'to-client', responseTo: 'config.get', nth: 3 }, { delayMs: 1 });

    await gw.configGet();
    await Promise.all([gw.configGet(), gw.configGet(), gw.health()]);
    await gw.configSchema(); // ~2 MB: a 64-bit length, arriving in many TCP chunks

    expect(every).toBe(3);
    expect([all.matched, all.fired]).toEqual([3, 3]);
    expect([second.matched, second.fired]).toEqual([3, 1]);
    expect((await second.wait()).faults).toEqual(['callback', 'callback']);
    expect((await answered.wait()).responseTo).toBe('config.get');

    const frames = proxy.frames();
    const requests = frames.filter((f) => f.direction === 'to-gateway' && f.type === 'req');
    expect(requests.map((f) => f.method)).toEqual(['connect', 'config.get', 'config.get', 'config.get', 'health', 'config.schema']);
    const gets = requests.filter((f) => f.method === 'config.get');
    expect(gets.map((f) => f.faults)).toEqual([['callback'], ['callback', 'callback'], ['callback']]);
    const responses = frames.filter((f) => f.type === 'res');
    for (const req of requests) {
      const res = responses.filter((r) => r.id === req.id && r.conn === req.conn);
      expect(res, `response to ${req.method}`).toHaveLength(1);
      expect(res[0]).toMatchObject({ direction: 'to-client', responseTo: req.method, ok: true, outcome: 'forwarded' });
    }
    expect(frames.find((f) => f.direction === 'to-client' && f.event === 'connect.challenge')).toBeDefined();
    expect(responses.find((r) => r.responseTo === 'config.schema')!.size).toBeGreaterThan(1_000_000);
    expect(frames.every((f) => f.outcome === 'forwarded')).toBe(true);
  });

  it('follows a client that splits frames byte by byte and packs several into one TCP chunk', async () => {
    const proxy = await proxyTo(a());
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.setNoDelay(true);
    cleanup.push(async () => void socket.destroy());
    const parser = new WsFrameParser();
    const inbox: Array<Record<string, unknown>> = [];
    let head = '';
    let upgraded: () => void;
    const upgrade = new Promise<void>((resolve) => (upgraded = resolve));
    socket.on('data', (d: Buffer) => {
      let rest = d;
      if (!head.includes('\r\n\r\n')) {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        rest = Buffer.from(head.slice(end + 4), 'latin1');
        upgraded();
      }
      for (const f of parser.push(rest)) if (f.opcode === 1) inbox.push(JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>);
    });
    const next = async (pred: (m: Record<string, unknown>) => boolean) => {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(10)) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
      }
      throw new Error('no such message from the gateway');
    };
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await upgrade;
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    await next((m) => m.event === 'connect.challenge');
    // `cli` without a device gets operator.* on loopback with the shared token (research §2.4).
    const connectFrame = encodeFrame(
      text(
        JSON.stringify({
          type: 'req',
          id: 'k1',
          method: 'connect',
          params: { minProtocol: 4, maxProtocol: 4, client: { id: 'cli', version: '0.0.0', platform: process.platform, mode: 'cli' }, role: 'operator', scopes: ['operator.read'], caps: [], auth: { token: a().token } },
        }),
      ),
      { mask: true },
    );
    for (let at = 0; at < connectFrame.length; at += 3) {
      socket.write(connectFrame.subarray(at, at + 3));
      if (at % 60 === 0) await sleep(1);
    }
    expect(await next((m) => m.id === 'k1')).toMatchObject({ ok: true });
    const req = (id: string, method: string) => encodeFrame(text(JSON.stringify({ type: 'req', id, method, params: {} })), { mask: true });
    socket.write(Buffer.concat([req('k2', 'health'), req('k3', 'status'), req('k4', 'config.get')]));
    for (const id of ['k2', 'k3', 'k4']) expect(await next((m) => m.id === id)).toMatchObject({ ok: true });

    const seen = proxy.frames().filter((f) => f.type === 'req' || f.type === 'res');
    expect(seen.filter((f) => f.type === 'req').map((f) => [f.id, f.method])).toEqual([
      ['k1', 'connect'],
      ['k2', 'health'],
      ['k3', 'status'],
      ['k4', 'config.get'],
    ]);
    expect(seen.filter((f) => f.type === 'res').map((f) => [f.id, f.responseTo]).sort()).toEqual([
      ['k1', 'connect'],
      ['k2', 'health'],
      ['k3', 'status'],
      ['k4', 'config.get'],
    ]);
  });

  describe('a hash-guarded write and a lost connection', () => {
    const created: string[] = [];
    afterAll(async () => {
      const client = await GatewayClient.connect({ url: a().url, token: a().token, device, scopes: ['operator.admin'] });
      const gw = new OpenClawGateway(client);
      for (const id of created) await gw.agentsDelete(id, { deleteFiles: true }).catch(() => undefined);
      await client.close();
    });

    async function attempt(where: 'after-response' | 'before-request') {
      const agentId = `fp-${run}-${created.length}`;
      created.push(agentId);
      const proxy = await proxyTo(a());
      const client = await connect(proxy.url, a().token, fastReconnect);
      const gw = new OpenClawGateway(client);
      const fault =
        where === 'after-response'
          ? proxy.on({ direction: 'to-client', responseTo: 'config.patch' }, 'drop')
          : proxy.on({ direction: 'to-gateway', method: 'config.patch' }, 'drop');
      const back = reconnected(client);
      const { hash } = await gw.configGet();
      // `ownership` is what a second agent needs; other tests on `a` set the same value.
      const err = await gw.configPatch({ patch: { agents: { ownership: 'explicit', entries: { [agentId]: { name: `fault proxy ${where}` } } } }, baseHash: hash }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionLostError);
      expect((err as ConnectionLostError).closeCode).toBe(1006);
      const frame = await fault.wait();
      expect(frame.outcome).toBe('dropped');
      await back;
      const after = await gw.configGet();
      const entries = (after.sourceConfig.agents as { entries?: Record<string, unknown> } | undefined)?.entries ?? {};
      return { agentId, frame, entries, hashBefore: hash, hashAfter: after.hash, frames: proxy.frames() };
    }

    it('dropped right after the gateway answered: the write happened, the client sees ConnectionLostError', async () => {
      // Gateway `a` is shared: another test's write can make ours stale (the dropped answer is then a
      // refusal). Try again, as a careful client would, until the dropped answer is a success.
      let r = await attempt('after-response');
      for (let i = 0; i < 5 && r.frame.ok === false; i++) r = await attempt('after-response');
      expect(r.frame).toMatchObject({ direction: 'to-client', type: 'res', responseTo: 'config.patch', ok: true });
      expect(r.entries).toHaveProperty(r.agentId);
      expect(r.hashAfter).not.toBe(r.hashBefore);
    });

    it('dropped before the request reached the gateway: the write never happened', async () => {
      const r = await attempt('before-request');
      expect(r.frame).toMatchObject({ direction: 'to-gateway', type: 'req', method: 'config.patch' });
      expect(r.entries).not.toHaveProperty(r.agentId);
      expect(r.frames.filter((f) => f.responseTo === 'config.patch')).toEqual([]);
    });
  });

  it('cuts a frame in the middle, either way; a read survives both by reconnecting', async () => {
    const proxy = await proxyTo(a());
    const client = await connect(proxy.url, a().token, fastReconnect);
    const gw = new OpenClawGateway(client);

    const toClient = proxy.on({ direction: 'to-client', responseTo: 'config.get' }, 'cut-mid-frame');
    let back = reconnected(client);
    await expect(gw.configGet()).resolves.toHaveProperty('hash');
    await back;
    expect((await toClient.wait()).outcome).toBe('cut');

    const toGateway = proxy.cutMidFrame('to-gateway');
    back = reconnected(client);
    await expect(gw.configGet()).resolves.toHaveProperty('hash');
    await back;
    expect(await toGateway.wait()).toMatchObject({ direction: 'to-gateway', method: 'config.get', outcome: 'cut' });
    expect(proxy.connections()).toBe(3);
    // The cut requests were never answered on their connection; the re-sent ones were.
    const cut = proxy.frames().filter((f) => f.outcome === 'cut');
    expect(cut.map((f) => [f.conn, f.direction])).toEqual([
      [1, 'to-client'],
      [2, 'to-gateway'],
    ]);
  });

  it('refuses connections for a while: reconnects fail until it ends', async () => {
    const proxy = await proxyTo(a());
    const client = await connect(proxy.url, a().token, fastReconnect);
    const back = reconnected(client);
    const t0 = Date.now();
    const refusal = proxy.refuse(1_500);
    proxy.dropAll();
    await expect(GatewayClient.connect({ url: proxy.url, token: a().token, device, scopes: ['operator.read'], reconnect: false })).rejects.toBeInstanceOf(GatewayUnreachableError);
    await refusal;
    await back;
    // Retrying every 50–250 ms, the client would have been back long before had it been let in.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_450);
    expect(proxy.connections()).toBe(2);
    await expect(new OpenClawGateway(client).health()).resolves.toHaveProperty('ok', true);
  });

  it('delays either direction, as a standing latency or for one frame', async () => {
    const proxy = await proxyTo(a());
    const gw = new OpenClawGateway(await connect(proxy.url, a().token));
    const timed = async () => {
      const t = performance.now();
      await gw.health();
      return performance.now() - t;
    };
    const base = await timed();
    proxy.delay(200, 'to-gateway');
    proxy.delay(300, 'to-client');
    expect(await timed()).toBeGreaterThanOrEqual(500);
    proxy.delay(0);
    expect(await timed()).toBeLessThan(base + 400);
    const once = proxy.on({ direction: 'to-client', responseTo: 'health' }, { delayMs: 400 });
    expect(await timed()).toBeGreaterThanOrEqual(400);
    expect(once.fired).toBe(1);
    expect(await timed()).toBeLessThan(base + 400);
  });

  it('stalls at a frame until resumed', async () => {
    const proxy = await proxyTo(a());
    const gw = new OpenClawGateway(await connect(proxy.url, a().token));
    const stall = proxy.on({ direction: 'to-client', responseTo: 'health' }, 'stall');
    let answered = false;
    const health = gw.health().then(() => (answered = true));
    await stall.wait();
    await sleep(300);
    expect(answered).toBe(false);
    proxy.resume();
    await health;
    expect(answered).toBe(true);
  });
});
