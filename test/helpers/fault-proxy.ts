/**
 * A TCP proxy in front of a real gateway that can misbehave on cue: stall the gateway's answers,
 * cut every connection, or terminate TLS with a throwaway certificate. It lets tests put the
 * client through the faults of research §3.5 (hung requests, dropped sockets) on the real
 * protocol, without restarting the shared gateway.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

export interface FaultProxy {
  readonly url: string;
  /** SHA-256 fingerprint (`AB:CD:…`) of the proxy's certificate, when it terminates TLS. */
  readonly fingerprint256?: string;
  /** Bytes clients sent through the proxy (after TLS), to prove what was or was not sent. */
  readonly clientBytes: () => string;
  /** Holds back everything the gateway sends until resume(). */
  stall(): void;
  resume(): void;
  /** Destroys every open connection (the client sees an abnormal close, 1006). */
  dropAll(): void;
  readonly connections: () => number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { port: number }, opts: { tls?: boolean } = {}): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  let stalled = false;
  const held: Array<() => void> = [];
  let sent = '';
  let accepted = 0;

  const onClient = (client: net.Socket) => {
    accepted++;
    const upstream = net.connect(target.port, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d: Buffer) => {
      sent += d.toString('latin1');
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (stalled) held.push(() => client.writable && client.write(d));
      else client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  };

  let server: net.Server;
  let fingerprint256: string | undefined;
  let certDir: string | undefined;
  if (opts.tls) {
    certDir = mkdtempSync(join(tmpdir(), 'clawops-proxy-cert-'));
    const key = join(certDir, 'key.pem');
    const cert = join(certDir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const pem = readFileSync(cert);
    fingerprint256 = new X509Certificate(pem).fingerprint256;
    server = tls.createServer({ key: readFileSync(key), cert: pem }, onClient);
  } else {
    server = net.createServer(onClient);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    url: `${opts.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    ...(fingerprint256 ? { fingerprint256 } : {}),
    clientBytes: () => sent,
    stall: () => void (stalled = true),
    resume: () => {
      stalled = false;
      for (const f of held.splice(0)) f();
    },
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    connections: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (certDir) rmSync(certDir, { recursive: true, force: true });
    },
  };
}

/** A fingerprint that is certainly not the proxy's. */
export const WRONG_FINGERPRINT = createHash('sha256').update('not the certificate').digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
