/**
 * The real-gateway harness keeps its promises: the gateway listens on loopback only, its one
 * unavoidable call home (clawhub.ai, research §1.3) is refused and recorded by the egress guard,
 * and the guard itself refuses what it should and nothing else.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { describeSocket, hasPeer, isListener, isLoopbackAddress, processTree, treeSockets } from '../fleet/harness/proc-sockets.ts';
import { egressGuardUrl } from '../fleet/harness/real-gateway.ts';
import { sharedGateway } from './helpers/gateways.ts';

interface EgressEntry {
  ts: string;
  pid: number;
  kind: string;
  host: string;
  port: number | null;
  stackTop: string[];
}

function readEgress(file: string): EgressEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EgressEntry);
}

describe.runIf(process.platform === 'linux')('real gateway (shared gateway a)', () => {
  it('listens on loopback only', () => {
    const g = sharedGateway('a');
    const listeners = treeSockets(g.pid).filter(isListener);
    // Without a listener the loopback assertion below would pass vacuously.
    expect(listeners.map(describeSocket)).toContainEqual(expect.stringContaining(`127.0.0.1:${g.port} LISTEN`));
    expect(listeners.filter((s) => !isLoopbackAddress(s.localAddress)).map(describeSocket)).toEqual([]);
  });

  it('has its clawhub.ai lookup refused and recorded, and talks to nothing beyond loopback', { timeout: 45_000 }, async () => {
    const g = sharedGateway('a');
    const outward = new Set<string>();
    const deadline = Date.now() + 30_000;
    let refused: EgressEntry | undefined;
    // The lookup comes 3–8 s after ready; sockets are sampled meanwhile, not just once.
    for (;;) {
      for (const s of treeSockets(g.pid).filter(hasPeer)) if (!isLoopbackAddress(s.remoteAddress)) outward.add(describeSocket(s));
      refused = readEgress(g.egressLog).find((e) => e.host === 'clawhub.ai');
      if (refused || Date.now() > deadline) break;
      await sleep(500);
    }
    expect(refused, `no clawhub.ai refusal in ${g.egressLog}`).toBeDefined();
    expect(refused!.kind).toMatch(/^dns\./);
    // Recorded by the gateway's own process tree (the guard reached the launcher's children).
    expect(processTree(g.pid)).toContain(refused!.pid);
    expect([...outward]).toEqual([]);
  });
});

describe('egress guard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clawops-egress-guard-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `script` (ESM) in a Node child with the guard preloaded the way the harness does it. */
  function runGuarded(name: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string; log: EgressEntry[]; pid: number }> {
    const file = join(dir, `${name}.mjs`);
    const log = join(dir, `${name}.jsonl`);
    writeFileSync(file, script);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [file], {
        env: { PATH: process.env.PATH, NODE_OPTIONS: `--import=${egressGuardUrl()}`, CLAWOPS_EGRESS_LOG: log },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr, log: readEgress(log), pid: child.pid! }));
    });
  }

  it('refuses non-loopback lookups, connects and datagrams, and records each', async () => {
    const r = await runGuarded(
      'refuse',
      `
import dns from 'node:dns';
import { lookup } from 'node:dns/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
const outcome = (p) => p.then(() => 'allowed', (e) => e.code ?? e.cause?.code ?? e.message);
const socketOutcome = (s) => outcome(new Promise((res, rej) => { s.once('connect', () => { s.destroy(); res(); }); s.once('secureConnect', () => { s.destroy(); res(); }); s.once('error', rej); }));
const results = {
  lookup: await outcome(lookup('example.com')),
  lookupCallback: await outcome(new Promise((res, rej) => dns.lookup('example.org', (e) => (e ? rej(e) : res())))),
  resolve4: await outcome(new Promise((res, rej) => dns.resolve4('example.net', (e) => (e ? rej(e) : res())))),
  resolver: await outcome(new dns.promises.Resolver().resolveTxt('example.com')),
  connect: await socketOutcome(net.connect({ host: '10.255.255.1', port: 9 })),
  tls: await socketOutcome(tls.connect({ host: 'example.com', port: 443 })),
  fetch: await outcome(fetch('http://10.255.255.1:8080/')),
  udp: await outcome(new Promise((res, rej) => { const u = dgram.createSocket('udp4'); u.send('x', 53, '10.255.255.1', (e) => { u.close(); e ? rej(e) : res(); }); })),
};
console.log(JSON.stringify(results));
`,
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      lookup: 'EGRESS_REFUSED',
      lookupCallback: 'EGRESS_REFUSED',
      resolve4: 'EGRESS_REFUSED',
      resolver: 'EGRESS_REFUSED',
      connect: 'EGRESS_REFUSED',
      tls: 'EGRESS_REFUSED',
      fetch: 'EGRESS_REFUSED',
      udp: 'EGRESS_REFUSED',
    });
    expect(r.log.map((e) => [e.kind, e.host, e.port])).toEqual([
      ['dns.promises.lookup', 'example.com', null],
      ['dns.lookup', 'example.org', null],
      ['dns.resolve4', 'example.net', null],
      ['dns.promises.Resolver.resolveTxt', 'example.com', null],
      ['net.connect', '10.255.255.1', 9],
      ['net.connect', 'example.com', 443],
      ['net.connect', '10.255.255.1', 8080],
      ['dgram.send', '10.255.255.1', 53],
    ]);
    for (const e of r.log) {
      expect(e.pid).toBe(r.pid);
      expect(Date.parse(e.ts)).not.toBeNaN();
      expect(e.stackTop.length).toBeGreaterThan(0);
    }
  });

  it('lets loopback through and reaches processes the guarded one spawns', async () => {
    const r = await runGuarded(
      'allow',
      `
import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import dgram from 'node:dgram';
import net from 'node:net';
const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
await new Promise((res) => server.once('listening', res));
const { port } = server.address();
const connect = (host) => new Promise((res, rej) => { const s = net.connect({ host, port }); s.once('connect', () => { s.destroy(); res('connected'); }); s.once('error', (e) => rej(e)); });
const results = {
  ipv4: await connect('127.0.0.1'),
  localhost: await connect('localhost').catch((e) => e.code),
  lookupLocalhost: (await lookup('localhost')).address.startsWith('127.') || (await lookup('localhost')).address === '::1',
  udp: await new Promise((res, rej) => { const u = dgram.createSocket('udp4'); u.send('x', 9, '127.0.0.1', (e) => { u.close(); e ? rej(e) : res('sent'); }); }),
  grandchild: execFileSync(process.execPath, ['-e', 'require("node:dns").lookup("example.com", (e) => process.stdout.write(String(e && e.code)))'], { encoding: 'utf8' }),
};
server.close();
console.log(JSON.stringify(results));
`,
    );
    expect(r.stderr).toBe('');
    const results = JSON.parse(r.stdout) as Record<string, unknown>;
    // "localhost" may resolve to ::1 first while the server listens on 127.0.0.1 only.
    expect(['connected', 'ECONNREFUSED']).toContain(results.localhost);
    expect({ ...results, localhost: undefined }).toEqual({ ipv4: 'connected', localhost: undefined, lookupLocalhost: true, udp: 'sent', grandchild: 'EGRESS_REFUSED' });
    expect(r.log).toHaveLength(1);
    expect(r.log[0]).toMatchObject({ kind: 'dns.lookup', host: 'example.com' });
    expect(r.log[0]!.pid).not.toBe(r.pid);
  });
});
