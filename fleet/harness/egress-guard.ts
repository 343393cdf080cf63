/**
 * Preload for the real gateway's process tree (`NODE_OPTIONS=--import=<this file's URL>`, so every
 * Node child the launcher spawns loads it too). It refuses every attempt to reach a non-loopback
 * host and appends one JSON line per refusal to `$CLAWOPS_EGRESS_LOG`.
 *
 * Why: the offline gateway config still performs one `clawhub.ai` lookup a few seconds after it is
 * ready (plugin-catalog prewarm, no switch to turn it off). Tests must prove that it, and anything
 * new a later openclaw adds, never leaves the machine.
 *
 * Loaded by file URL into foreign processes, so it imports Node builtins only and exports nothing.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';

type AnyFn = (...args: unknown[]) => unknown;
type Callback = (err: Error | null, ...rest: unknown[]) => void;

const installed = Symbol.for('clawops.egress-guard.installed');
const globals = globalThis as unknown as Record<symbol, boolean | undefined>;

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === 'localhost.') return true;
  const family = net.isIP(h);
  if (family === 4) return loopback.check(h, 'ipv4');
  if (family === 6) return loopback.check(h, 'ipv6');
  return false;
}

const here = import.meta.url;
const herePath = fileURLToPath(here);

function callerFrames(): string[] {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error('egress').stack ?? '';
  Error.stackTraceLimit = saved;
  return stack
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => !l.includes(here) && !l.includes(herePath))
    .slice(0, 8);
}

/** Callers pass ports as numbers or strings (undici uses strings); the log uses numbers. */
function portNumber(port: unknown): number | null {
  if (typeof port === 'number') return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  return null;
}

function record(kind: string, host: string, port: unknown): void {
  const entry = { ts: new Date().toISOString(), pid: process.pid, thread: threadId, kind, host, port: portNumber(port), stackTop: callerFrames() };
  const line = `${JSON.stringify(entry)}\n`;
  try {
    const file = process.env.CLAWOPS_EGRESS_LOG;
    if (file) appendFileSync(file, line);
    else process.stderr.write(`[clawops egress guard] refused ${line}`);
  } catch {
    // Recording must never turn a refusal into a crash of the guarded process.
  }
}

function refusal(kind: string, host: string, port: unknown, syscall: string): NodeJS.ErrnoException {
  const where = port === undefined || port === null ? host : `${host}:${String(port)}`;
  return Object.assign(new Error(`clawops egress guard refused ${kind} ${where}: only loopback is allowed`), {
    code: 'EGRESS_REFUSED',
    errno: -constants.errno.ECONNREFUSED,
    syscall,
    hostname: host,
    address: host,
    port,
  });
}

/** Keeps what Node hangs on its own functions (e.g. `util.promisify`'s result shape for `lookup`). */
function likeOriginal<F extends AnyFn>(original: AnyFn, wrapper: F): F {
  for (const key of Object.getOwnPropertySymbols(original)) {
    const d = Object.getOwnPropertyDescriptor(original, key);
    if (d) Object.defineProperty(wrapper, key, d);
  }
  Object.defineProperty(wrapper, 'name', { value: original.name });
  return wrapper;
}

/** A DNS entry point taking the name first and a callback last. */
function guardCallbackDns(original: AnyFn, kind: string): AnyFn {
  return likeOriginal(original, function guarded(this: unknown, ...args: unknown[]) {
    const [name, ...rest] = args;
    const cb = rest.at(-1);
    if (typeof name === 'string' && name !== '' && !isLoopback(name) && typeof cb === 'function') {
      record(kind, name, kind === 'dns.lookupService' ? rest[0] : undefined);
      const err = refusal(kind, name, undefined, kind.replace(/^dns\./, ''));
      process.nextTick(() => (cb as Callback)(err));
      return undefined;
    }
    return Reflect.apply(original, this, args);
  });
}

/** A `dns.promises` entry point taking the name first. */
function guardPromiseDns(original: AnyFn, kind: string): AnyFn {
  return likeOriginal(original, function guarded(this: unknown, ...args: unknown[]) {
    const [name] = args;
    if (typeof name === 'string' && name !== '' && !isLoopback(name)) {
      record(kind, name, kind === 'dns.promises.lookupService' ? args[1] : undefined);
      return Promise.reject(refusal(kind, name, undefined, kind.replace(/^dns\.promises\./, '')));
    }
    return Reflect.apply(original, this, args);
  });
}

function isDnsQuery(key: string): boolean {
  return key.startsWith('resolve') || key === 'reverse' || key === 'lookup' || key === 'lookupService';
}

function patchAll(target: object, guard: (f: AnyFn, kind: string) => AnyFn, prefix: string): void {
  const t = target as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(target)) {
    const f = t[key];
    if (typeof f === 'function' && isDnsQuery(key)) t[key] = guard(f as AnyFn, `${prefix}.${key}`);
  }
}

/** Where a `net.Socket#connect` call is going, from any of its call shapes. */
function connectTarget(args: unknown[]): { host: string; port: unknown } | undefined {
  let first = args[0];
  // net.connect() hands Socket#connect its already-normalized argument array.
  if (Array.isArray(first)) first = first[0];
  if (first !== null && typeof first === 'object') {
    const o = first as { path?: unknown; host?: unknown; port?: unknown };
    if (typeof o.path === 'string' && o.path !== '') return undefined;
    return { host: typeof o.host === 'string' && o.host !== '' ? o.host : 'localhost', port: o.port };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return undefined; // an IPC path
  return { host: typeof args[1] === 'string' && args[1] !== '' ? args[1] : 'localhost', port: first };
}

function install(): void {
  patchAll(dns, guardCallbackDns, 'dns');
  patchAll(dns.Resolver.prototype, guardCallbackDns, 'dns.Resolver');
  patchAll(dns.promises, guardPromiseDns, 'dns.promises');
  patchAll(dns.promises.Resolver.prototype, guardPromiseDns, 'dns.promises.Resolver');

  // net.connect, net.createConnection, tls.connect, http(s) agents and fetch all end up here.
  const connect = net.Socket.prototype.connect as unknown as AnyFn;
  net.Socket.prototype.connect = likeOriginal(connect, function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const target = connectTarget(args);
    if (target && !isLoopback(target.host)) {
      record('net.connect', target.host, target.port);
      const err = refusal('net.connect', target.host, target.port, 'connect');
      process.nextTick(() => this.destroy(err));
      return this;
    }
    return Reflect.apply(connect, this, args);
  }) as unknown as typeof net.Socket.prototype.connect;

  const send = dgram.Socket.prototype.send as unknown as AnyFn;
  dgram.Socket.prototype.send = likeOriginal(send, function guardedSend(this: dgram.Socket, ...args: unknown[]) {
    let connected = false;
    try {
      this.remoteAddress();
      connected = true;
    } catch {
      // Not connected: the destination is in the arguments.
    }
    if (!connected) {
      // Mirrors dgram's own argument shuffling: (msg, offset, length, port, address, cb) or (msg, port, address, cb).
      const long = Boolean(args[4]) || (Boolean(args[3]) && typeof args[3] !== 'function');
      const [port, addressOrCb, lastCb] = long ? [args[3], args[4], args[5]] : [args[1], args[2], args[3]];
      const [address, cb] = typeof addressOrCb === 'function' ? [undefined, addressOrCb] : [addressOrCb, lastCb];
      if (typeof address === 'string' && address !== '' && !isLoopback(address)) {
        record('dgram.send', address, port);
        const err = refusal('dgram.send', address, port, 'send');
        process.nextTick(() => (typeof cb === 'function' ? (cb as Callback)(err) : this.emit('error', err)));
        return undefined;
      }
    }
    return Reflect.apply(send, this, args);
  }) as unknown as typeof dgram.Socket.prototype.send;

  const udpConnect = dgram.Socket.prototype.connect as unknown as AnyFn;
  dgram.Socket.prototype.connect = likeOriginal(udpConnect, function guardedUdpConnect(this: dgram.Socket, ...args: unknown[]) {
    const [port, address, cb] = typeof args[1] === 'function' ? [args[0], undefined, args[1]] : args;
    if (typeof address === 'string' && address !== '' && !isLoopback(address)) {
      record('dgram.connect', address, port);
      const err = refusal('dgram.connect', address, port, 'connect');
      process.nextTick(() => (typeof cb === 'function' ? (cb as Callback)(err) : this.emit('error', err)));
      return undefined;
    }
    return Reflect.apply(udpConnect, this, args);
  }) as unknown as typeof dgram.Socket.prototype.connect;

  // `import { lookup } from 'node:dns'` binds at link time; this refreshes those bindings.
  syncBuiltinESMExports();
}

if (!globals[installed]) {
  globals[installed] = true;
  install();
}
