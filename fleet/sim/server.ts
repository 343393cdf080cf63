/**
 * The simulator's network side: ONE HTTP server on 127.0.0.1 for any number of simulated
 * gateways, routed by path (`ws://127.0.0.1:<port>/gw/<id>`), so a thousand gateways cost a
 * thousand small state objects rather than a thousand listening sockets. One shared timer sends
 * the `tick` events and drops sockets that never finish the handshake; a restart is the only
 * per-gateway timer, and only while it lasts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort } from '../harness/free-port.ts';
import { PRE_CONNECT_MAX_PAYLOAD, PROTOCOL_VERSION, type ConnectChallenge } from '../openclaw/protocol.ts';
import { SimGatewayState } from './gateway-state.ts';
import { admit, type Admitted } from './handshake.ts';
import { isPlainObject, type Json, type JsonRecord } from './json.ts';
import { METHODS, hasScope } from './methods.ts';
import { SimRequestError, invalidRequest, missingScope, restarting } from './sim-errors.ts';

export interface SimulatorOptions {
  /** Default: a free port (fleet/harness/free-port.ts). */
  readonly port?: number;
  /** `hello-ok.server.version` and `status.runtimeVersion`. */
  readonly version?: string;
  readonly tickIntervalMs?: number;
  /** From `gateway.restart.request` (or a restart-only config write) to the 1012 close. */
  readonly restartDelayMs?: number;
  /** How long a restarting gateway refuses connections (also its `restartExpectedMs`). */
  readonly restartDownMs?: number;
  /** Journal entries kept per gateway (the real gateway keeps 50 000). */
  readonly journalLimit?: number;
  /** `hello-ok.policy.maxPayload`: the largest frame accepted after the handshake. */
  readonly maxPayload?: number;
  /** The authored config of gateway number `index` (the token is added under `gateway.auth`). */
  readonly initialConfig?: (index: number) => JsonRecord;
}

export interface SimulatedGateway {
  readonly id: string;
  readonly url: string;
  /** The gateway's shared token. */
  readonly token: string;
  /** Open, authenticated sessions. */
  readonly sessionCount: number;
  restart(reason?: string): void;
  /** Simulates a hand edit of the config file (drift): merge-patched without guards, journalled as `external-edit`. Returns the changed paths. */
  editConfigExternally(patch: JsonRecord): readonly string[];
  /** Removes this gateway: its sockets close (1001) and its URL answers 404 from then on. */
  close(): void;
}

export interface GatewaySimulator {
  readonly port: number;
  readonly gateways: readonly SimulatedGateway[];
  /** Adds `count` more gateways to the running simulator. */
  add(count: number): SimulatedGateway[];
  close(): Promise<void>;
}

interface Session {
  readonly ws: WebSocket;
  readonly challenge: ConnectChallenge;
  readonly openedAt: number;
  connId: string | undefined;
  admitted: Admitted | undefined;
  seq: number;
}

const DEFAULTS = { version: '2026.9.6', tickIntervalMs: 30_000, restartDelayMs: 250, restartDownMs: 500, journalLimit: 200, maxPayload: 25 * 1024 * 1024 };
const HANDSHAKE_TIMEOUT_MS = 15_000;

class Gateway implements SimulatedGateway {
  readonly id: string;
  readonly url: string;
  readonly token: string;
  readonly state: SimGatewayState;
  readonly sessions = new Set<Session>();
  down = false;
  draining = false;
  private readonly sim: Simulator;

  constructor(sim: Simulator, index: number) {
    this.sim = sim;
    this.id = `gw-${index}`;
    this.url = `ws://127.0.0.1:${sim.port}/gw/${this.id}`;
    this.token = randomBytes(16).toString('hex');
    const initialConfig = sim.options.initialConfig?.(index);
    this.state = new SimGatewayState({
      id: this.id,
      token: this.token,
      version: sim.options.version,
      journalLimit: sim.options.journalLimit,
      ...(initialConfig ? { initialConfig } : {}),
      broadcast: (event, payload) => this.broadcast(event, payload),
      scheduleRestart: (reason) => this.restart(reason),
    });
  }

  get sessionCount(): number {
    let n = 0;
    for (const s of this.sessions) if (s.admitted) n++;
    return n;
  }

  broadcast(event: string, payload: Json): void {
    for (const s of this.sessions) if (s.admitted && hasScope(s.admitted.scopes, 'operator.read')) sendEvent(s, event, payload);
  }

  /** Drains (requests answer "restarting"), announces `shutdown`, closes 1012, stays down a moment. Restarts coalesce. */
  restart(reason = 'gateway restarting'): void {
    if (this.draining || this.down) return;
    this.draining = true;
    const { restartDelayMs, restartDownMs } = this.sim.options;
    setTimeout(() => {
      this.broadcast('shutdown', { reason: 'gateway restarting', detail: reason, restartExpectedMs: restartDownMs });
      this.down = true;
      for (const s of this.sessions) s.ws.close(1012, 'service restart');
      this.sessions.clear();
      setTimeout(() => {
        this.state.restarted();
        this.down = this.draining = false;
      }, restartDownMs).unref();
    }, restartDelayMs).unref();
  }

  editConfigExternally(patch: JsonRecord): readonly string[] {
    return this.state.editExternally(patch);
  }

  close(): void {
    for (const s of this.sessions) s.ws.close(1001, 'gateway removed');
    this.sessions.clear();
    this.sim.remove(this.id);
  }
}

class Simulator implements GatewaySimulator {
  readonly port: number;
  readonly options: Required<Omit<SimulatorOptions, 'port' | 'initialConfig'>> & Pick<SimulatorOptions, 'initialConfig'>;
  private readonly byId = new Map<string, Gateway>();
  private nextIndex = 0;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly ticker: NodeJS.Timeout;

  constructor(port: number, options: SimulatorOptions) {
    this.port = port;
    this.options = { ...DEFAULTS, ...stripUndefined(options) };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxPayload, perMessageDeflate: false });
    this.http = createServer((req, res) => {
      const gw = this.route(req);
      const healthy = gw && !gw.down && /\/(health|healthz)$/.test(req.url ?? '');
      res.writeHead(healthy ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(healthy ? { ok: true, status: 'live' } : { ok: false }));
    });
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.ticker = setInterval(() => this.tick(), this.options.tickIntervalMs);
    this.ticker.unref();
  }

  get gateways(): readonly SimulatedGateway[] {
    return [...this.byId.values()];
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen({ port: this.port, host: '127.0.0.1', exclusive: true }, () => resolve());
    });
  }

  add(count: number): SimulatedGateway[] {
    const added: Gateway[] = [];
    for (let i = 0; i < count; i++) {
      const gw = new Gateway(this, this.nextIndex++);
      this.byId.set(gw.id, gw);
      added.push(gw);
    }
    return added;
  }

  remove(id: string): void {
    this.byId.delete(id);
  }

  async close(): Promise<void> {
    clearInterval(this.ticker);
    for (const gw of this.byId.values()) gw.close();
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private route(req: IncomingMessage): Gateway | undefined {
    const m = /^\/gw\/([\w-]+)(?:\/|$|\?)/.exec(req.url ?? '');
    return m?.[1] ? this.byId.get(m[1]) : undefined;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const gw = this.route(req);
    if (!gw || gw.down) {
      // A restarting gateway is simply not there, like a process that has not bound its port yet.
      socket.end(`HTTP/1.1 ${gw ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(gw, ws));
  }

  private open(gw: Gateway, ws: WebSocket): void {
    const session: Session = { ws, challenge: { nonce: randomUUID(), ts: Date.now() }, openedAt: Date.now(), connId: undefined, admitted: undefined, seq: 0 };
    gw.sessions.add(session);
    ws.on('close', () => gw.sessions.delete(session));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => this.onFrame(gw, session, data as Buffer, isBinary));
    sendEvent(session, 'connect.challenge', { nonce: session.challenge.nonce, ts: session.challenge.ts, capabilities: [] });
  }

  private onFrame(gw: Gateway, s: Session, data: Buffer, isBinary: boolean): void {
    if (!s.admitted && data.length > PRE_CONNECT_MAX_PAYLOAD) return void s.ws.close(1009, 'frame too large');
    let frame: unknown;
    try {
      frame = isBinary ? undefined : JSON.parse(data.toString('utf8'));
    } catch {
      frame = undefined;
    }
    if (!isPlainObject(frame) || frame.type !== 'req' || typeof frame.id !== 'string' || typeof frame.method !== 'string') {
      return void s.ws.close(1008, 'invalid frame');
    }
    const { id, method } = frame;
    const params = isPlainObject(frame.params) ? frame.params : {};
    try {
      if (!s.admitted) return this.connect(gw, s, id, method, params);
      if (method === 'connect') throw invalidRequest('invalid handshake: already connected');
      const spec = METHODS.get(method);
      if (!spec) throw invalidRequest(`unknown method: ${method}`);
      if (!hasScope(s.admitted.scopes, spec.scope)) throw missingScope(spec.scope);
      if (gw.draining) throw restarting();
      if (spec.write) gw.state.chargeWrite(method, s.admitted.deviceKey);
      const payload = spec.run({ state: gw.state, restart: (reason) => gw.restart(reason) }, params);
      send(s, { type: 'res', id, ok: true, payload });
    } catch (e) {
      this.refuse(s, id, e);
    }
  }

  private connect(gw: Gateway, s: Session, id: string, method: string, params: JsonRecord): void {
    if (method !== 'connect') throw new SimRequestError({ code: 'INVALID_REQUEST', message: 'invalid handshake: first request must be connect' }, 1008);
    const admitted = admit(gw.state, s.challenge, params);
    s.admitted = admitted;
    s.connId = randomUUID();
    const { state } = gw;
    send(s, {
      type: 'res',
      id,
      ok: true,
      payload: {
        type: 'hello-ok',
        protocol: PROTOCOL_VERSION,
        server: { version: state.version, buildId: `${state.version}-sim`, bootId: state.bootId, connId: s.connId },
        features: { methods: [...METHODS.keys()], events: ['connect.challenge', 'tick', 'shutdown', 'cron'], capabilities: [] },
        snapshot: {
          uptimeMs: Date.now() - state.startedAt,
          appliedConfigHash: state.appliedConfigHash,
          configPath: state.configPath,
          stateDir: state.stateDir,
          authMode: 'token',
          sessionDefaults: { defaultAgentId: 'main', mainKey: 'main' },
        },
        auth: {
          method: admitted.authMethod,
          role: 'operator',
          scopes: admitted.scopes,
          ...(admitted.deviceToken ? { deviceToken: admitted.deviceToken, issuedAtMs: Date.now() } : {}),
        },
        policy: { maxPayload: this.options.maxPayload, maxBufferedBytes: 2 * this.options.maxPayload, tickIntervalMs: this.options.tickIntervalMs },
      },
    });
  }

  private refuse(s: Session, id: string, e: unknown): void {
    const err = e instanceof SimRequestError ? e : new SimRequestError({ code: 'INTERNAL_ERROR', message: `simulator: ${(e as Error).message}` });
    send(s, { type: 'res', id, ok: false, error: err.shape });
    if (err.closeCode) s.ws.close(err.closeCode, err.shape.message.slice(0, 120));
  }

  /** One timer for all gateways: ticks keep clients' liveness checks happy; stalled handshakes are dropped. */
  private tick(): void {
    const now = Date.now();
    for (const gw of this.byId.values()) {
      for (const s of gw.sessions) {
        if (s.admitted) sendEvent(s, 'tick', { ts: now });
        else if (now - s.openedAt > HANDSHAKE_TIMEOUT_MS) s.ws.close(1008, 'handshake timeout');
      }
    }
  }
}

function send(s: Session, frame: JsonRecord | Record<string, unknown>): void {
  if (s.ws.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify(frame));
}

function sendEvent(s: Session, event: string, payload: Json): void {
  send(s, { type: 'event', event, payload, seq: ++s.seq });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Starts an empty simulator; `add(n)` creates gateways. */
export async function startGatewaySimulator(options: SimulatorOptions = {}): Promise<GatewaySimulator> {
  const sim = new Simulator(options.port ?? (await freePort()), options);
  await sim.listen();
  return sim;
}

/** Starts a simulator with `count` gateways; `sim.gateways[i]` has the `url` and `token` to connect with. */
export async function startSimulatedGateways(count: number, options: SimulatorOptions = {}): Promise<GatewaySimulator> {
  const sim = await startGatewaySimulator(options);
  sim.add(count);
  return sim;
}
