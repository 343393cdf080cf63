/**
 * One operator session with an OpenClaw gateway over its WebSocket protocol (research §2).
 *
 * The gateway restarts itself for some config writes (close 1012), answers "starting" while its
 * sidecars load (close 1013), can leave a request unanswered across a restart, and pushes events
 * between responses. This client owns all of that so nothing above it has to: it reconnects with
 * backoff, re-sends only requests that are safe to repeat, times every request out, and turns
 * every refusal into a typed error.
 */
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { signConnect, type DeviceIdentity } from './device-identity.ts';
import {
  ClientClosedError,
  ConnectionLostError,
  FrameTooLargeError,
  GatewayError,
  GatewayTimeoutError,
  GatewayUnreachableError,
  isRecord,
  toGatewayError,
  type GatewayErrorShape,
} from './errors.ts';
import {
  CLIENT_ID,
  CLIENT_MODE,
  PRE_CONNECT_MAX_PAYLOAD,
  PROTOCOL_VERSION,
  parseInbound,
  type ConnectChallenge,
  type EventFrame,
  type HelloOk,
  type OperatorScope,
  type ResponseFrame,
} from './protocol.ts';

export interface ReconnectOptions {
  /** First wait after a drop; a `shutdown` event's `restartExpectedMs` overrides it. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Give up (and fail waiting requests) after this long without a session. */
  readonly giveUpAfterMs?: number;
}

export interface GatewayClientOptions {
  readonly url: string;
  /** The gateway's shared token. */
  readonly token?: string;
  /** The token the gateway issued to this device at pairing; used when no shared token is given. */
  readonly deviceToken?: string;
  readonly device: DeviceIdentity;
  /** Requested explicitly: the gateway does not default scopes (research §2.2). */
  readonly scopes: readonly OperatorScope[];
  readonly clientVersion?: string;
  readonly displayName?: string;
  /** Per request unless the call says otherwise. A request can hang across a restart (research §3.5). */
  readonly requestTimeoutMs?: number;
  /** How long to keep retrying while the gateway answers "starting" (startup sidecars). */
  readonly startupTimeoutMs?: number;
  /** Also retry while nothing listens yet (a gateway process that was just spawned). */
  readonly awaitListening?: boolean;
  readonly challengeTimeoutMs?: number;
  /** `false` turns reconnecting off: a dropped session then fails every later request. */
  readonly reconnect?: false | ReconnectOptions;
  /** `wss://` only: accept exactly the certificate with this SHA-256 fingerprint (`AB:CD:…`). */
  readonly tlsFingerprint256?: string;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  /**
   * Re-send after a reconnect when the connection dropped first. Only for requests that do the
   * same thing twice: reads, hash-guarded writes and calls carrying an idempotency key.
   */
  readonly retryOnReconnect?: boolean;
  /** Adds `idempotencyKey` to the params (`true`: a fresh UUID kept across re-sends). */
  readonly idempotencyKey?: string | true;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

type EventHandler = (payload: unknown, frame: EventFrame) => void;

interface Pending {
  readonly id: string;
  readonly method: string;
  readonly frame: string;
  readonly bytes: number;
  readonly retryOnReconnect: boolean;
  readonly resolve: (payload: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly deadline: number;
  /** Frames received since this was sent: none at time-out means the session is wedged. */
  seenSince: number;
  sent: boolean;
}

const DEFAULTS = {
  requestTimeoutMs: 30_000,
  startupTimeoutMs: 60_000,
  challengeTimeoutMs: 15_000,
  initialDelayMs: 250,
  maxDelayMs: 5_000,
  giveUpAfterMs: 60_000,
};
/** Incoming frames: the full config schema alone is ~2 MB; the gateway's own cap is 25 MiB. */
const MAX_INBOUND_PAYLOAD = 64 * 1024 * 1024;
/** Longest "retry after" a safe request waits out by itself (restarts say 1 s). */
const MAX_INLINE_RETRY_MS = 5_000;
/** Close codes after which reconnecting cannot help (policy violation, protocol error). */
const FATAL_CLOSE_CODES = new Set([1002, 1008]);

export class GatewayClient {
  readonly url: string;
  private readonly options: GatewayClientOptions;
  private ws: WebSocket | undefined;
  private helloOk: HelloOk | undefined;
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly waitingForSession: Pending[] = [];
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly reconnectHandlers = new Set<(hello: HelloOk) => void>();
  private connState: ConnectionState = 'connecting';
  private framesSeen = 0;
  private lastFrameAt = 0;
  private keepalive: NodeJS.Timeout | undefined;
  private restartExpectedMs: number | undefined;
  private fatal: Error | undefined;

  private constructor(options: GatewayClientOptions) {
    this.url = options.url;
    this.options = options;
  }

  /** Opens a session; resolves on `hello-ok`, which is also the gateway's only honest readiness signal. */
  static async connect(options: GatewayClientOptions): Promise<GatewayClient> {
    const client = new GatewayClient(options);
    await client.establish(options.startupTimeoutMs ?? DEFAULTS.startupTimeoutMs, options.awaitListening ?? false);
    return client;
  }

  get hello(): HelloOk {
    if (!this.helloOk) throw new ClientClosedError('no session with the gateway');
    return this.helloOk;
  }

  get state(): ConnectionState {
    return this.connState;
  }

  /** Subscribes to a gateway event (`config.changed`, `shutdown`, `cron`, …); returns the unsubscribe. */
  on(event: string, handler: EventHandler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Called after every successful reconnect; state read before the drop may be stale. */
  onReconnect(handler: (hello: HelloOk) => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  request<T = unknown>(method: string, params: Record<string, unknown> = {}, opts: RequestOptions = {}): Promise<T> {
    if (this.connState === 'closed') return Promise.reject(this.fatal ?? new ClientClosedError(`${method}: the client is closed`));
    const withKey = opts.idempotencyKey ? { ...params, idempotencyKey: opts.idempotencyKey === true ? randomUUID() : opts.idempotencyKey } : params;
    const id = `c${this.nextId++}`;
    const frame = JSON.stringify({ type: 'req', id, method, params: withKey });
    const bytes = Buffer.byteLength(frame);
    const limit = this.helloOk?.policy.maxPayload ?? PRE_CONNECT_MAX_PAYLOAD;
    if (bytes > limit) return Promise.reject(new FrameTooLargeError(method, bytes, limit));
    const timeoutMs = opts.timeoutMs ?? this.options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        id,
        method,
        frame,
        bytes,
        retryOnReconnect: opts.retryOnReconnect ?? false,
        resolve: resolve as (payload: unknown) => void,
        reject,
        timer: setTimeout(() => this.timeOut(entry, timeoutMs), timeoutMs),
        deadline: Date.now() + timeoutMs,
        seenSince: 0,
        sent: false,
      };
      this.pending.set(id, entry);
      if (this.connState === 'open') this.send(entry);
      else this.waitingForSession.push(entry);
    });
  }

  /** Ends the session for good. Pending requests fail with ClientClosedError. */
  async close(): Promise<void> {
    if (this.connState === 'closed') return;
    this.connState = 'closed';
    this.stopKeepalive();
    this.failAll(new ClientClosedError('the client was closed'));
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2_000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      ws.close(1000, 'client closing');
    });
  }

  // --- session establishment -------------------------------------------------------------------

  private async establish(budgetMs: number, awaitListening: boolean): Promise<void> {
    const deadline = Date.now() + budgetMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const { ws, hello } = await this.handshake();
        this.adopt(ws, hello);
        return;
      } catch (e) {
        const retryIn = this.retryDelay(e, attempt, awaitListening);
        if (retryIn === undefined || Date.now() + retryIn > deadline || this.connState === 'closed') {
          throw e instanceof GatewayError || e instanceof GatewayUnreachableError ? e : new GatewayUnreachableError(`${this.url}: ${(e as Error).message}`, { cause: e });
        }
        await sleep(retryIn);
      }
    }
  }

  /** How long to wait before trying again, or undefined when retrying cannot help. */
  private retryDelay(e: unknown, attempt: number, awaitListening: boolean): number | undefined {
    if (e instanceof GatewayError) {
      // "gateway starting; retry shortly" (research §1.4) is the only connect refusal worth retrying.
      if (e.code === 'UNAVAILABLE' && e.retryable) return e.retryAfterMs ?? 500;
      return undefined;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (awaitListening && (code === 'ECONNREFUSED' || code === 'ECONNRESET')) return Math.min(250 * 2 ** Math.min(attempt, 3), 2_000);
    return undefined;
  }

  private handshake(): Promise<{ ws: WebSocket; hello: HelloOk }> {
    const o = this.options;
    const pin = o.tlsFingerprint256?.toUpperCase();
    const ws = new WebSocket(o.url, {
      maxPayload: MAX_INBOUND_PAYLOAD,
      handshakeTimeout: o.challengeTimeoutMs ?? DEFAULTS.challengeTimeoutMs,
      perMessageDeflate: false,
      // With a pinned fingerprint the pin replaces CA validation (self-signed gateway certificates).
      ...(pin ? { rejectUnauthorized: false } : {}),
    });
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(challengeTimer);
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
        reject(e);
      };
      const waitMs = o.challengeTimeoutMs ?? DEFAULTS.challengeTimeoutMs;
      let challengeTimer = setTimeout(() => fail(new GatewayUnreachableError(`${o.url}: no connect.challenge within ${waitMs} ms`)), waitMs);
      ws.on('error', (e) => fail(e));
      ws.on('close', (code, reason) => fail(new GatewayUnreachableError(`${o.url}: closed during handshake (${code} ${reason.toString()})`)));
      ws.on('upgrade', (res) => {
        if (!pin) return;
        // Checked before any frame is sent, so the token never reaches an impostor.
        const seen = (res.socket as TLSSocket).getPeerCertificate?.()?.fingerprint256?.toUpperCase();
        if (seen !== pin) fail(new GatewayUnreachableError(`${o.url}: TLS certificate fingerprint ${seen ?? '(none)'} does not match the pinned ${pin}`));
      });
      ws.on('message', (data) => {
        const frame = parseInbound(data.toString());
        if (!frame) return;
        if (frame.type === 'event' && frame.event === 'connect.challenge') {
          clearTimeout(challengeTimer);
          // A gateway that takes the challenge but never answers `connect` must not hold us either.
          challengeTimer = setTimeout(() => fail(new GatewayUnreachableError(`${o.url}: no answer to connect within ${waitMs} ms`)), waitMs);
          const ch = frame.payload as ConnectChallenge;
          ws.send(JSON.stringify({ type: 'req', id: 'connect', method: 'connect', params: this.connectParams(ch) }));
          return;
        }
        if (frame.type === 'res' && frame.id === 'connect') {
          if (frame.ok && isRecord(frame.payload) && frame.payload.type === 'hello-ok') {
            settled = true;
            clearTimeout(challengeTimer);
            ws.removeAllListeners();
            resolve({ ws, hello: frame.payload as unknown as HelloOk });
          } else {
            fail(toGatewayError('connect', frame.error ?? { code: 'UNKNOWN', message: 'connect refused without an error' }));
          }
        }
      });
    });
  }

  private connectParams(ch: ConnectChallenge): Record<string, unknown> {
    const o = this.options;
    const token = o.token ?? o.deviceToken ?? '';
    const auth = o.token ? { token: o.token } : o.deviceToken ? { deviceToken: o.deviceToken, token: o.deviceToken } : {};
    return {
      minProtocol: PROTOCOL_VERSION,
      maxProtocol: PROTOCOL_VERSION,
      client: { id: CLIENT_ID, version: o.clientVersion ?? '0.0.0', platform: process.platform, mode: CLIENT_MODE, displayName: o.displayName ?? 'clawops' },
      role: 'operator',
      scopes: o.scopes,
      caps: [],
      auth,
      device: signConnect(o.device, {
        clientId: CLIENT_ID,
        clientMode: CLIENT_MODE,
        role: 'operator',
        scopes: o.scopes,
        signedAt: ch.ts,
        token,
        nonce: ch.nonce,
        platform: process.platform,
      }),
    };
  }

  /** Takes over a socket that finished the handshake and replays what waited for it. */
  private adopt(ws: WebSocket, hello: HelloOk): void {
    const reconnected = this.helloOk !== undefined;
    this.ws = ws;
    this.helloOk = hello;
    this.connState = 'open';
    this.restartExpectedMs = undefined;
    this.lastFrameAt = Date.now();
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
    ws.on('error', () => {}); // a 'close' always follows; handled there
    this.startKeepalive(hello.policy.tickIntervalMs);
    for (const entry of this.waitingForSession.splice(0)) this.send(entry);
    if (reconnected) for (const h of this.reconnectHandlers) h(hello);
  }

  // --- the open session ------------------------------------------------------------------------

  private send(entry: Pending): void {
    const ws = this.ws;
    const policy = this.helloOk?.policy;
    if (!ws || !policy) return void this.waitingForSession.push(entry);
    if (entry.bytes > policy.maxPayload) {
      this.settle(entry.id)?.reject(new FrameTooLargeError(entry.method, entry.bytes, policy.maxPayload));
      return;
    }
    if (ws.bufferedAmount > 0 && ws.bufferedAmount + entry.bytes > policy.maxBufferedBytes) {
      // Over the gateway's buffer allowance it would drop us; wait for the socket to drain.
      setTimeout(() => this.pending.get(entry.id) === entry && !entry.sent && this.send(entry), 20);
      return;
    }
    entry.sent = true;
    entry.seenSince = this.framesSeen;
    ws.send(entry.frame);
  }

  private onMessage(text: string): void {
    this.framesSeen++;
    this.lastFrameAt = Date.now();
    const frame = parseInbound(text);
    if (!frame) return;
    if (frame.type === 'res') return this.onResponse(frame);
    if (frame.event === 'shutdown' && isRecord(frame.payload) && typeof frame.payload.restartExpectedMs === 'number') {
      this.restartExpectedMs = frame.payload.restartExpectedMs;
    }
    for (const h of this.handlers.get(frame.event) ?? []) h(frame.payload, frame);
    for (const h of this.handlers.get('*') ?? []) h(frame.payload, frame);
  }

  private onResponse(frame: ResponseFrame): void {
    const waiting = this.pending.get(frame.id);
    if (!waiting) return; // answer to a request that already timed out
    if (!frame.ok && waiting.retryOnReconnect && this.retryLater(waiting, frame.error)) return;
    const entry = this.settle(frame.id);
    if (!entry) return;
    if (frame.ok) entry.resolve(frame.payload);
    else entry.reject(toGatewayError(entry.method, frame.error ?? ({ code: 'UNKNOWN', message: 'request failed without an error' } satisfies GatewayErrorShape)));
  }

  /**
   * While it restarts, the gateway answers "unavailable, retry in 1 s" before closing the socket.
   * A request that is safe to repeat waits that out (within its own deadline) instead of failing;
   * rate limits are not waited out here: a minute is the caller's decision.
   */
  private retryLater(entry: Pending, error: GatewayErrorShape | undefined): boolean {
    if (!error || error.code !== 'UNAVAILABLE' || error.retryable !== true) return false;
    const delay = error.retryAfterMs ?? 1_000;
    if (delay > MAX_INLINE_RETRY_MS || Date.now() + delay >= entry.deadline) return false;
    entry.sent = false;
    setTimeout(() => {
      if (this.pending.get(entry.id) !== entry || entry.sent) return;
      if (this.connState === 'open') this.send(entry);
      else if (!this.waitingForSession.includes(entry)) this.waitingForSession.push(entry);
    }, delay);
    return true;
  }

  private settle(id: string): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    const i = this.waitingForSession.indexOf(entry);
    if (i >= 0) this.waitingForSession.splice(i, 1);
    return entry;
  }

  private timeOut(entry: Pending, timeoutMs: number): void {
    if (!this.settle(entry.id)) return;
    entry.reject(new GatewayTimeoutError(entry.method, timeoutMs));
    // Nothing at all arrived while we waited: the session is wedged (seen across restarts), so drop it.
    if (entry.sent && this.framesSeen === entry.seenSince && this.ws) this.ws.terminate();
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.stopKeepalive();
    if (this.connState === 'closed') return;
    // Requests the gateway may or may not have executed fail, unless repeating them is harmless.
    for (const entry of [...this.pending.values()]) {
      if (!entry.sent) continue;
      if (entry.retryOnReconnect && this.options.reconnect !== false && !FATAL_CLOSE_CODES.has(code)) {
        entry.sent = false;
        this.waitingForSession.push(entry);
      } else {
        this.settle(entry.id)?.reject(new ConnectionLostError(entry.method, code, reason));
      }
    }
    if (this.options.reconnect === false || FATAL_CLOSE_CODES.has(code)) {
      this.connState = 'closed';
      this.fatal = new GatewayUnreachableError(`${this.url}: session closed (${code}${reason ? ` ${reason}` : ''})`);
      this.failAll(this.fatal);
      return;
    }
    this.connState = 'reconnecting';
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    const r = this.options.reconnect || {};
    const giveUpAt = Date.now() + (r.giveUpAfterMs ?? DEFAULTS.giveUpAfterMs);
    let delay = this.restartExpectedMs ?? r.initialDelayMs ?? DEFAULTS.initialDelayMs;
    for (;;) {
      await sleep(delay * (0.8 + Math.random() * 0.4));
      if (this.connState === 'closed') return;
      try {
        const { ws, hello } = await this.handshake();
        // close() may have run while the handshake was in flight.
        if (this.isClosed()) return void ws.terminate();
        this.adopt(ws, hello);
        return;
      } catch (e) {
        const permanent = e instanceof GatewayError && !(e.code === 'UNAVAILABLE' && e.retryable);
        if (permanent || Date.now() >= giveUpAt) {
          this.connState = 'closed';
          this.fatal = e instanceof GatewayError ? e : new GatewayUnreachableError(`${this.url}: could not reconnect (${(e as Error).message})`, { cause: e });
          this.failAll(this.fatal);
          return;
        }
        delay = e instanceof GatewayError && e.retryAfterMs ? e.retryAfterMs : Math.min(delay * 2, r.maxDelayMs ?? DEFAULTS.maxDelayMs);
      }
    }
  }

  /** The gateway ticks every `tickIntervalMs`; two silent intervals mean a dead peer (research §2.1). */
  private startKeepalive(tickIntervalMs: number): void {
    this.stopKeepalive();
    const interval = Math.max(1_000, tickIntervalMs);
    this.keepalive = setInterval(() => {
      if (Date.now() - this.lastFrameAt > 2 * interval) this.ws?.terminate();
    }, interval);
    this.keepalive.unref();
  }

  private isClosed(): boolean {
    return this.connState === 'closed';
  }

  private stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
  }

  private failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(error);
    this.waitingForSession.length = 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
