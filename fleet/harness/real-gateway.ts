/**
 * Starts real OpenClaw gateways for tests, benchmarks and `npm start`: each on a free loopback
 * port, in its own throw-away HOME, with the offline config of research §1.2, and behind the
 * egress guard so nothing it does can leave the machine. "Ready" means a real `hello-ok`.
 *
 * A gateway costs ~1 GB and 10–15 s to start, and a forgotten one keeps both, so every gateway
 * started here is also stopped when this process exits or is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { GatewayClient } from '../openclaw/client.ts';
import { generateDeviceIdentity, type DeviceIdentity } from '../openclaw/device-identity.ts';
import { ConnectionLostError, GatewayError } from '../openclaw/errors.ts';
import { freePort } from './free-port.ts';
import { ensureOpenClaw, tail } from './install.ts';
import { processTree } from './proc-sockets.ts';

export interface GatewaySpec {
  readonly name: string;
  /** The shared auth token; a random one when omitted. */
  readonly token?: string;
}

export interface StartGatewaysOptions {
  /** Spawn to `hello-ok`; generous by default because two busy cores can triple start-up time. */
  readonly startupTimeoutMs?: number;
  /** Keep each HOME (state, config, logs) after stop; default: env CLAWOPS_KEEP_GATEWAY_STATE=1. */
  readonly keepState?: boolean;
  /** Deep-merged over the offline config (objects merge, everything else replaces). */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Extra environment for the gateway process. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Everything a test needs to reach and inspect a gateway; plain data, so vitest can hand it to workers. */
export interface GatewayInfo {
  readonly name: string;
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** The launcher process spawned here; the gateway's other processes are its descendants. */
  readonly pid: number;
  /** HOME and OPENCLAW_HOME of the gateway. */
  readonly home: string;
  /** `<home>/.openclaw` */
  readonly stateDir: string;
  readonly configPath: string;
  /** The gateway's stdout and stderr. */
  readonly logFile: string;
  /** OpenClaw's own log (`logging.file`). */
  readonly openclawLog: string;
  /** One JSON line per network attempt the egress guard refused. */
  readonly egressLog: string;
}

export interface RealGateway extends GatewayInfo {
  /** `server.version` from hello-ok. */
  readonly version: string;
  /** From spawn to the first hello-ok. */
  readonly startedToHelloMs: number;
  /** SIGTERM, then SIGKILL after 10 s; resolves to the exit code (null when a signal ended it). Idempotent. */
  stop(): Promise<number | null>;
  /**
   * Restarts the gateway and resolves once it answers hello-ok again, on the same port, token and
   * HOME (so with the same config). Soft: the gateway's own in-process restart. Hard: SIGKILL of
   * its whole process tree, then a fresh launcher (`pid` changes). One restart at a time.
   */
  restart(opts?: RestartOptions): Promise<RestartResult>;
}

export interface RestartOptions {
  /** A crash (SIGKILL, then start again) instead of the gateway's own `gateway.restart.request`. */
  readonly hard?: boolean;
  /** Until hello-ok is back; default 120 s. */
  readonly timeoutMs?: number;
  /** Soft only: the reason the gateway logs. */
  readonly reason?: string;
}

export interface RestartResult {
  readonly hard: boolean;
  /** From the restart request (soft) or the SIGKILL (hard) to the next hello-ok. */
  readonly ms: number;
  /** The launcher's PID afterwards. */
  readonly pid: number;
  /** `hello-ok.server.bootId` before and after: they differ, proving the gateway really restarted. */
  readonly bootIdBefore: string | undefined;
  readonly bootId: string | undefined;
}

const DEFAULT_STARTUP_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;
/** A soft restart took 4–8 s when measured; stop() waits this long for one in flight. */
const SOFT_RESTART_STOP_WAIT_MS = 20_000;
/** Shared and kept warm across runs: a cold compile cache adds ~10 s to every start (research §1.1). */
export const COMPILE_CACHE_DIR = join(tmpdir(), 'clawops-openclaw-compile-cache');

/** Launchers still running, for the exit and signal hooks. */
const running = new Map<number, ChildProcess>();

/** The egress guard next to this module: `.ts` when running from source, the compiled `.js` from dist/. */
export function egressGuardUrl(): string {
  return new URL(`./egress-guard${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
}

export async function startGateways(specs: readonly GatewaySpec[], opts: StartGatewaysOptions = {}): Promise<RealGateway[]> {
  const names = specs.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`gateway name "${dup}" is used twice`);
  const results = await Promise.allSettled(specs.map((s) => startGateway(s, opts)));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length) {
    await Promise.all(started.map((g) => g.stop()));
    throw new Error(failures.map((e) => e.message).join('\n\n'), { cause: failures[0] });
  }
  return started;
}

export async function startGateway(spec: GatewaySpec, opts: StartGatewaysOptions = {}): Promise<RealGateway> {
  const { entry } = await ensureOpenClaw();
  const startupTimeoutMs = opts.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  const keepState = opts.keepState ?? process.env.CLAWOPS_KEEP_GATEWAY_STATE === '1';
  const token = spec.token ?? randomBytes(24).toString('base64url');
  const port = await freePort();
  const home = mkdtempSync(join(tmpdir(), `clawops-gw-${spec.name.replace(/[^A-Za-z0-9_-]/g, '-')}-`));
  const stateDir = join(home, '.openclaw');
  const info: GatewayInfo = {
    name: spec.name,
    url: `ws://127.0.0.1:${port}`,
    port,
    token,
    pid: 0,
    home,
    stateDir,
    configPath: join(stateDir, 'openclaw.json'),
    logFile: join(home, 'gateway.log'),
    openclawLog: join(home, 'openclaw.log'),
    egressLog: join(home, 'egress.jsonl'),
  };
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(COMPILE_CACHE_DIR, { recursive: true });
  const config = deepMerge(offlineConfig(port, token, info.openclawLog), opts.config ?? {});
  writeFileSync(info.configPath, `// Written by clawops' gateway harness (fleet/harness/real-gateway.ts): offline and loopback-only.\n${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });

  const argv = [entry, 'gateway', 'run', '--port', String(port), '--bind', 'loopback', '--token', token];
  const env = gatewayEnv(info, opts.env ?? {});
  const t0 = performance.now();
  let launched: Launched;
  try {
    launched = await launch(argv, env, info);
  } catch (e) {
    if (!keepState) rmSync(home, { recursive: true, force: true });
    throw e;
  }
  installExitHooks();
  // Replaced by a hard restart; stop() and restart() always act on the current launcher.
  const proc = { child: launched.child, pid: launched.pid, bootId: undefined as string | undefined };

  let stopping: Promise<number | null> | undefined;
  let restarting: { hard: boolean; done: Promise<unknown> } | undefined;
  const stop = () => {
    if (stopping) return stopping;
    // SIGTERM is ignored while an in-process restart is under way (the gateway logs "received
    // SIGTERM during shutdown; ignoring"), so a soft restart in flight gets to finish first.
    const soft = restarting && !restarting.hard ? restarting.done.catch(() => undefined) : undefined;
    stopping = soft
      ? Promise.race([soft, sleep(SOFT_RESTART_STOP_WAIT_MS, undefined, { ref: false })]).then(() => stopGateway(proc.child, proc.pid, info, keepState))
      : stopGateway(proc.child, proc.pid, info, keepState);
    return stopping;
  };

  const restart = (ropts: RestartOptions = {}): Promise<RestartResult> => {
    if (stopping) return Promise.reject(new Error(`gateway "${info.name}" is stopped`));
    if (restarting) return Promise.reject(new Error(`gateway "${info.name}" is already restarting`));
    const hard = ropts.hard === true;
    const timeoutMs = ropts.timeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
    const run = async (): Promise<RestartResult> => {
      const bootIdBefore = proc.bootId;
      const t = performance.now();
      let hello: Hello;
      if (hard) {
        await killTree(proc.child, proc.pid);
        running.delete(proc.pid);
        if (stopping) throw new Error(`gateway "${info.name}" was stopped during its restart`);
        const next = await launch(argv, env, info);
        if (stopping) {
          next.child.kill('SIGKILL');
          running.delete(next.pid);
          throw new Error(`gateway "${info.name}" was stopped during its restart`);
        }
        proc.child = next.child;
        proc.pid = next.pid;
        hello = await waitForHello(proc.child, info, timeoutMs);
      } else {
        hello = await softRestart(proc.child, info, timeoutMs, ropts.reason ?? 'clawops harness restart', bootIdBefore);
      }
      proc.bootId = hello.bootId;
      return { hard, ms: Math.round(performance.now() - t), pid: proc.pid, bootIdBefore, bootId: hello.bootId };
    };
    const done = run().finally(() => (restarting = undefined));
    restarting = { hard, done };
    return done;
  };

  try {
    const hello = await waitForHello(proc.child, info, startupTimeoutMs);
    proc.bootId = hello.bootId;
    const gateway: RealGateway = {
      ...info,
      get pid() {
        return proc.pid;
      },
      version: hello.version,
      startedToHelloMs: Math.round(performance.now() - t0),
      stop,
      restart,
    };
    return gateway;
  } catch (e) {
    await stop();
    throw e;
  }
}

interface Launched {
  readonly child: ChildProcess;
  readonly pid: number;
}

/** Spawns the launcher (appending to the gateway's log) and registers it for the exit hooks. */
async function launch(argv: readonly string[], env: Record<string, string>, info: GatewayInfo): Promise<Launched> {
  const out = openSync(info.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, argv, { cwd: info.home, env, stdio: ['ignore', out, out], detached: false });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`could not start gateway "${info.name}" (${process.execPath} ${argv[0] ?? ''}): ${err.message}`, { cause: err });
  }
  running.set(pid, child);
  return { child, pid };
}

/** A device of the harness's own for its admin calls: one key per process, not a pairing per call. */
let adminDevice: DeviceIdentity | undefined;

/**
 * `gateway.restart.request` over a short-lived admin session (research §3.5). The gateway may defer
 * the restart until in-flight work settles; the session's close (1012) marks the real start, and a
 * hello-ok from a new boot marks the end.
 */
async function softRestart(child: ChildProcess, info: GatewayInfo, timeoutMs: number, reason: string, bootIdBefore: string | undefined): Promise<Hello> {
  const deadline = Date.now() + timeoutMs;
  const admin = await GatewayClient.connect({
    url: info.url,
    token: info.token,
    device: (adminDevice ??= generateDeviceIdentity()),
    scopes: ['operator.admin'],
    reconnect: false,
    startupTimeoutMs: Math.max(1_000, deadline - Date.now()),
  });
  const before = bootIdBefore ?? admin.hello.server.bootId;
  try {
    await admin.request('gateway.restart.request', { reason }, { timeoutMs: Math.max(1_000, deadline - Date.now()) }).catch((e: unknown) => {
      // Going down before the answer got out is still going down.
      if (!(e instanceof ConnectionLostError)) throw e;
    });
    while (admin.state !== 'closed') {
      if (Date.now() >= deadline) throw new Error(`gateway "${info.name}" accepted a restart request but did not go down within ${Math.round(timeoutMs / 1000)} s`);
      await sleep(20);
    }
  } finally {
    await admin.close();
  }
  return waitForHello(child, info, Math.max(1_000, deadline - Date.now()), before);
}

/**
 * SIGKILL for the launcher and every descendant. They are frozen (SIGSTOP) first, repeatedly, until
 * the tree stops growing: a process killed before its parent could otherwise be replaced, and
 * children of a killed parent are re-parented out of reach.
 */
async function killTree(child: ChildProcess, rootPid: number): Promise<void> {
  const frozen = new Map<number, string | undefined>();
  for (let round = 0; round < 10; round++) {
    const fresh = processTree(rootPid)
      .concat([...frozen.keys()].flatMap((p) => processTree(p)))
      .filter((p) => !frozen.has(p));
    if (fresh.length === 0) break;
    for (const p of fresh) {
      frozen.set(p, startTime(p));
      sendSignal(p, 'SIGSTOP');
    }
  }
  for (const [p, start] of frozen) if (start !== undefined && startTime(p) === start) sendSignal(p, 'SIGKILL');
  await exitOf(child);
  // Reaped (or a zombie, which holds no port or lock any more) before the port is reused.
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && [...frozen].some(([p, start]) => start !== undefined && startTime(p) === start && procState(p) !== 'Z')) await sleep(20);
}

function sendSignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone in the meantime.
  }
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** The serializable part of a gateway (what `project.provide` can carry). */
export function gatewayInfo(g: RealGateway): GatewayInfo {
  const { name, url, port, token, pid, home, stateDir, configPath, logFile, openclawLog, egressLog } = g;
  return { name, url, port, token, pid, home, stateDir, configPath, logFile, openclawLog, egressLog };
}

function offlineConfig(port: number, token: string, logFile: string): Record<string, unknown> {
  return {
    gateway: { mode: 'local', bind: 'loopback', port, auth: { mode: 'token', token } },
    // Each of these turns off a call home seen on a default gateway (research §1.3).
    models: { catalogRefresh: { enabled: false } },
    update: { checkOnStart: false },
    discovery: { mdns: { mode: 'off' } },
    agents: { defaults: { heartbeat: { every: '0m' } } },
    plugins: { entries: { 'memory-core': { config: { dreaming: { enabled: false } } } } },
    // The default log file is shared by every gateway on the machine.
    logging: { file: logFile },
  };
}

/** Only what the gateway needs: a developer's own OPENCLAW_* or provider keys must not leak in. */
function gatewayEnv(info: GatewayInfo, extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL']) {
    const v = process.env[key];
    if (v !== undefined) env[key] = v;
  }
  return {
    ...env,
    // The launcher re-executes `node` for its helpers; it must find this (new enough) one.
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: info.home,
    OPENCLAW_HOME: info.home,
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
    // Restarts stay inside the launcher we spawned, so its PID stays ours to stop (research §1.1).
    OPENCLAW_NO_RESPAWN: '1',
    OPENCLAW_SKIP_CHANNELS: '1',
    OPENCLAW_EXEC_SHELL_SNAPSHOT: '0',
    CLAWHUB_DISABLE_TELEMETRY: '1',
    // After an unclean stop the gateway's state migrations try to `npm view` a missing runtime
    // plugin; refused by the egress guard, npm would retry for ~90 s before start-up goes on.
    npm_config_offline: 'true',
    npm_config_fetch_retries: '0',
    NO_COLOR: '1',
    NODE_COMPILE_CACHE: COMPILE_CACHE_DIR,
    // Through NODE_OPTIONS (not argv) so every Node process the launcher spawns is guarded too.
    NODE_OPTIONS: `--import=${egressGuardUrl()}`,
    CLAWOPS_EGRESS_LOG: info.egressLog,
    ...extra,
  };
}

interface Hello {
  version: string;
  bootId: string | undefined;
}

/**
 * Resolves on the first hello-ok (from a boot other than `notBootId`, when given); rejects when the
 * process exits first or the time is up.
 */
async function waitForHello(child: ChildProcess, info: GatewayInfo, timeoutMs: number, notBootId?: string): Promise<Hello> {
  const deadline = Date.now() + timeoutMs;
  const abort = new AbortController();
  const attempts: Attempts = { last: undefined };
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<never>((_, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`gateway "${info.name}" exited ${signal ? `on ${signal}` : `with code ${code}`} before it was ready.\n${logTails(info)}`));
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
    else child.once('exit', onExit);
  });
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const last = attempts.last ? ` (last attempt: ${attempts.last.message})` : '';
      reject(new Error(`gateway "${info.name}" did not answer hello-ok within ${Math.round(timeoutMs / 1000)} s${last}.\n${logTails(info)}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([helloWhenListening(info, deadline, abort.signal, attempts, notBootId), exited, timedOut]);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

interface Attempts {
  last: Error | undefined;
}

async function helloWhenListening(info: GatewayInfo, deadline: number, signal: AbortSignal, attempts: Attempts, notBootId?: string): Promise<Hello> {
  // Polled here rather than by the client's own awaitListening, which backs off up to 2 s (that
  // would show in every start-up time) and cannot be cancelled when the process dies meanwhile.
  while (!signal.aborted && Date.now() < deadline) {
    if (!(await accepts(info.port))) {
      await sleep(100);
      continue;
    }
    let client: GatewayClient;
    try {
      client = await GatewayClient.connect({
        url: info.url,
        token: info.token,
        device: generateDeviceIdentity(),
        scopes: ['operator.read'],
        // The client retries "gateway starting" answers itself; a dead gateway fails fast.
        startupTimeoutMs: Math.max(1_000, deadline - Date.now()),
        reconnect: false,
      });
    } catch (e) {
      // A refusal (bad token, protocol mismatch) will not change by waiting.
      if (e instanceof GatewayError) throw e;
      attempts.last = e as Error;
      await sleep(200);
      continue;
    }
    const { version, bootId } = client.hello.server;
    await client.close();
    // Still the boot that is about to restart (the listener closes only after in-flight work).
    if (notBootId !== undefined && bootId === notBootId) {
      await sleep(200);
      continue;
    }
    return { version, bootId };
  }
  throw new Error('abandoned');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function logTails(info: GatewayInfo): string {
  const read = (path: string) => {
    try {
      return tail(readFileSync(path, 'utf8'), 30) || '(empty)';
    } catch {
      return '(missing)';
    }
  };
  return `--- last lines of ${info.logFile} ---\n${read(info.logFile)}\n--- last lines of ${info.openclawLog} ---\n${read(info.openclawLog)}\n---`;
}

/** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat): tells a process from a later one reusing its PID. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function stopGateway(child: ChildProcess, pid: number, info: GatewayInfo, keepState: boolean): Promise<number | null> {
  // Remembered before the launcher goes: if it has to be SIGKILLed its children cannot be told to stop.
  const descendants = processTree(pid)
    .filter((p) => p !== pid)
    .map((p) => ({ pid: p, start: startTime(p) }));
  const exit = exitOf(child);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let ended = await Promise.race([exit, sleep(STOP_GRACE_MS).then(() => undefined)]);
  if (!ended) {
    child.kill('SIGKILL');
    ended = await exit;
  }
  for (const d of descendants) {
    if (d.start !== undefined && startTime(d.pid) === d.start) {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // Gone in the meantime.
      }
    }
  }
  running.delete(pid);
  if (keepState) process.stderr.write(`clawops: kept the state of gateway "${info.name}" in ${info.home}\n`);
  else rmSync(info.home, { recursive: true, force: true, maxRetries: 3 });
  return ended.code;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code })));
}

let hooksInstalled = false;

/** A crashed or interrupted run must not leave 1 GB gateways behind. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const terminateAll = () => {
    for (const child of running.values()) child.kill('SIGTERM');
  };
  process.on('exit', terminateAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      terminateAll();
      // Listening for a signal cancels Node's default exit; restore it unless someone else handles it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}
