/**
 * A loopback proxy in front of a real gateway that misbehaves on cue, for reliability tests and
 * benchmarks. It reads the WebSocket frames passing through (RFC 6455) so a fault can be placed at
 * an exact protocol point: "drop the connection once the gateway has answered config.patch" (the
 * write happened, the answer is lost) versus "before config.patch reaches the gateway" (it never
 * happened). Those two look the same to a client, and apply must survive both.
 *
 * Frames are forwarded whole and unmodified, in order, per direction; the proxy never re-encodes.
 * It can also terminate TLS with a throwaway certificate (for pinning tests).
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

export type Direction = 'to-gateway' | 'to-client';

export type OpcodeName = 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong' | 'reserved';

/** One WebSocket frame as the proxy saw it. `outcome` changes once the frame has been dealt with. */
export interface FrameRecord {
  /** Order of arrival at the proxy, over all connections and directions. */
  readonly seq: number;
  /** Which accepted connection (1-based, in accept order). */
  readonly conn: number;
  readonly direction: Direction;
  /** ms since the proxy started. */
  readonly at: number;
  readonly opcode: OpcodeName;
  readonly fin: boolean;
  /** Payload bytes (header and mask excluded). */
  readonly size: number;
  /** Set on the frame that completes a text message whose JSON was readable. */
  readonly type?: 'req' | 'res' | 'event';
  readonly id?: string;
  /** A request's method. */
  readonly method?: string;
  /** An event's name. */
  readonly event?: string;
  /** For a response: the method of the request (same connection, same id) it answers. */
  readonly responseTo?: string;
  /** For a response: its `ok`. */
  readonly ok?: boolean;
  /** For a close frame: the status code in it. */
  readonly closeCode?: number;
  /** What the proxy did with it; `pending` while queued, delayed or stalled. */
  outcome: 'pending' | 'forwarded' | 'dropped' | 'cut';
  /** Actions of triggers that fired on this frame. */
  readonly faults: string[];
}

/** Which frames a trigger (or `waitFor`) matches: every given field must match. */
export interface FrameMatch {
  readonly direction: Direction;
  /** A request with this method (normally `to-gateway`). */
  readonly method?: string;
  /** An event with this name (normally `to-client`). */
  readonly event?: string;
  /** A response to a request with this method (normally `to-client`). */
  readonly responseTo?: string;
}

export interface FaultTrigger extends FrameMatch {
  /** Fire on the nth matching frame (1-based, counted from when the trigger was set); default 1. */
  readonly nth?: number;
}

/**
 * - `drop`: destroy both sockets of that connection (the client sees 1006).
 * - `cut-mid-frame`: forward the first half of the triggering frame, then destroy (ignores `before`).
 * - `stall`: hold that direction of that connection until `resume()`.
 * - `{ delayMs }`: hold that direction of that connection for this long.
 * - `{ rewrite }`: deliver a changed message instead (gateway → client text frames only): a gateway
 *   that answers with something other than what it holds, e.g. to make a verification fail.
 * - a function: run it (e.g. kill or restart the gateway) at exactly that point. With `before`, the
 *   frame and everything behind it wait for it to settle; without, it runs right after forwarding.
 */
export type FaultAction =
  | 'drop'
  | 'cut-mid-frame'
  | 'stall'
  | { readonly delayMs: number }
  | { readonly rewrite: (message: unknown) => unknown }
  | (() => unknown);

export interface FaultOptions {
  /**
   * `true` (default): the action happens before the triggering frame is forwarded, so `drop` means
   * it is never delivered. `false`: the frame is forwarded first, then the action happens.
   */
  readonly before?: boolean;
  /** How many matching frames (from the nth on) it fires for; default 1, `Infinity` for all. */
  readonly times?: number;
}

export interface FaultHandle {
  /** Matching frames seen so far (fired or not). */
  readonly matched: number;
  /** Times the action was started. */
  readonly fired: number;
  /**
   * Resolves with the frame once the action has fired for the first time and taken effect (a
   * callback or a held delay: finished; a stall: begun); rejects if the callback threw.
   */
  wait(timeoutMs?: number): Promise<FrameRecord>;
  remove(): void;
}

export interface FaultProxy {
  /** `ws://127.0.0.1:<port>` (`wss://` with TLS). */
  readonly url: string;
  readonly port: number;
  /** SHA-256 fingerprint (`AB:CD:…`) of the proxy's certificate, when it terminates TLS. */
  readonly fingerprint256?: string;
  /** Everything clients sent through the proxy (after TLS), latin1: to prove what was or was not sent. */
  clientBytes(): string;
  /** Connections accepted so far. */
  connections(): number;
  /** Snapshot of the frames seen so far, in arrival order. */
  frames(): FrameRecord[];
  /** Resolves with the first frame (already seen or still to come) that matches. */
  waitFor(match: FrameMatch, timeoutMs?: number): Promise<FrameRecord>;
  /** Adds this much latency to every byte in that direction from now on (0 removes it). */
  delay(ms: number, direction?: Direction | 'both'): void;
  /** Holds everything in that direction (default: what the gateway sends) until resume(). */
  stall(direction?: Direction | 'both'): void;
  /** Ends every stall, global or set by a trigger. */
  resume(): void;
  /** Destroys every open connection (clients see an abnormal close, 1006). */
  dropAll(): void;
  /**
   * Stops listening for `ms` (connects get ECONNREFUSED, as from a dead gateway); open connections
   * are left alone (combine with dropAll). Resolves when it listens again.
   */
  refuse(ms: number): Promise<void>;
  /** Forwards part of the next frame in that direction (default `to-client`), then destroys that connection. */
  cutMidFrame(direction?: Direction): FaultHandle;
  /** Arranges a fault at a protocol point; see FaultAction and FaultOptions. */
  on(trigger: FaultTrigger, action: FaultAction, opts?: FaultOptions): FaultHandle;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Terminate TLS with a throwaway self-signed certificate (made with `openssl`). */
  readonly tls?: boolean;
}

/** A fingerprint that is certainly not the proxy's. */
export const WRONG_FINGERPRINT = createHash('sha256').update('not the certificate').digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';

const OPCODES: Record<number, OpcodeName> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
/** Beyond this an HTTP head is not an upgrade we understand; the bytes just pass through. */
const MAX_HTTP_HEAD = 64 * 1024;

// --- frame parsing -------------------------------------------------------------------------------

export interface ParsedFrame {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly opcode: number;
  /** The frame exactly as received (header, mask, payload). */
  readonly raw: Buffer;
  /** Unmasked. */
  readonly payload: Buffer;
}

/**
 * Incremental RFC 6455 frame splitter: feed it TCP chunks as they come; it returns the frames they
 * complete. Chunks are only joined once a whole frame is there, so a 2 MB frame arriving in 64 KB
 * reads is not copied again and again.
 */
export class WsFrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before parsing can make progress. */
  private needed = 2;
  /** Set on a header no WebSocket peer would send; parsing stops there (see takeRest). */
  broken = false;

  push(chunk: Buffer): ParsedFrame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.broken || this.buffered < this.needed) return [];
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const frames: ParsedFrame[] = [];
    for (;;) {
      const need = frameLength(buf);
      if (need === 'broken') {
        this.broken = true;
        break;
      }
      if (need.complete === undefined) {
        this.needed = need.atLeast;
        break;
      }
      const raw = buf.subarray(0, need.complete);
      frames.push(decode(raw, need.headerLength, need.masked));
      buf = buf.subarray(need.complete);
      if (buf.length === 0) {
        this.needed = 2;
        break;
      }
    }
    this.chunks = buf.length ? [buf] : [];
    this.buffered = buf.length;
    return frames;
  }

  /** The bytes not returned as frames yet, handed back so they can still be passed on. */
  takeRest(): Buffer {
    const rest = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }
}

type Need = { complete: number; headerLength: number; masked: boolean } | { complete: undefined; atLeast: number } | 'broken';

function frameLength(buf: Buffer): Need {
  if (buf.length < 2) return { complete: undefined, atLeast: 2 };
  const masked = (buf[1]! & 0x80) !== 0;
  const len7 = buf[1]! & 0x7f;
  const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerLength = 2 + extra + (masked ? 4 : 0);
  if (buf.length < headerLength) return { complete: undefined, atLeast: headerLength };
  let payloadLength = len7;
  if (len7 === 126) payloadLength = buf.readUInt16BE(2);
  else if (len7 === 127) {
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) return 'broken';
    payloadLength = Number(big);
  }
  const total = headerLength + payloadLength;
  return buf.length >= total ? { complete: total, headerLength, masked } : { complete: undefined, atLeast: total };
}

function decode(raw: Buffer, headerLength: number, masked: boolean): ParsedFrame {
  let payload = raw.subarray(headerLength);
  if (masked) {
    const mask = raw.subarray(headerLength - 4, headerLength);
    payload = Buffer.from(payload);
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  }
  return { fin: (raw[0]! & 0x80) !== 0, rsv1: (raw[0]! & 0x40) !== 0, opcode: raw[0]! & 0x0f, raw, payload };
}

/** Re-encodes one unmasked, unfragmented text frame with its JSON message changed. */
function rewriteFrame(raw: Buffer, change: (message: unknown) => unknown): Buffer {
  const first = raw[0]!;
  if ((first & 0x0f) !== 1 || (first & 0x80) === 0 || (raw[1]! & 0x80) !== 0) throw new Error('rewrite: only whole, unmasked text frames (gateway → client) can be rewritten');
  const len7 = raw[1]! & 0x7f;
  const headerLength = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  const text = JSON.stringify(change(JSON.parse(raw.subarray(headerLength).toString('utf8'))));
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  const header = Buffer.alloc(n < 126 ? 2 : n < 65_536 ? 4 : 10);
  header[0] = first;
  if (n < 126) header[1] = n;
  else if (n < 65_536) {
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

// --- the proxy -----------------------------------------------------------------------------------

interface Trigger {
  readonly match: FrameMatch;
  readonly nth: number;
  readonly times: number;
  readonly before: boolean;
  readonly action: FaultAction;
  matched: number;
  fired: number;
  removed: boolean;
  readonly done: Promise<FrameRecord>;
  readonly resolve: (r: FrameRecord) => void;
  readonly reject: (e: Error) => void;
}

interface Firing {
  readonly trigger: Trigger;
}

type Item =
  | { readonly kind: 'bytes'; readonly bytes: Buffer; readonly receivedAt: number; readonly record?: FrameRecord; readonly firings: readonly Firing[] }
  | { readonly kind: 'end'; readonly receivedAt: number };

interface Pipe {
  readonly direction: Direction;
  readonly conn: Conn;
  readonly from: net.Socket;
  readonly to: net.Socket;
  mode: 'http' | 'ws' | 'raw';
  head: Buffer;
  readonly parser: WsFrameParser;
  /** Fragments of a message not finished yet (text messages only are kept, to read their JSON). */
  fragments: Buffer[] | undefined;
  fragmentOpcode: number;
  readonly queue: Item[];
  running: boolean;
  stalled: boolean;
  holdUntil: number;
  endQueued: boolean;
}

interface Conn {
  readonly id: number;
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Request id → method, to name what each response answers. */
  readonly methods: Map<string, string>;
  destroyed: boolean;
  toGateway?: Pipe;
  toClient?: Pipe;
}

export async function startFaultProxy(target: { port: number; host?: string }, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const host = target.host ?? '127.0.0.1';
  const started = performance.now();
  const conns = new Set<Conn>();
  const records: FrameRecord[] = [];
  const triggers = new Set<Trigger>();
  const frameWaiters = new Set<{ match: FrameMatch; resolve: (r: FrameRecord) => void }>();
  const resumeWaiters = new Set<() => void>();
  const globalStall: Record<Direction, boolean> = { 'to-gateway': false, 'to-client': false };
  const latency: Record<Direction, number> = { 'to-gateway': 0, 'to-client': 0 };
  const sent: Buffer[] = [];
  let accepted = 0;
  let seq = 0;
  let closed = false;
  /** The latest refuse(): an earlier one still running ends with it. */
  let refusal: { readonly id: number; readonly done: Promise<void> } | undefined;
  /** Ends the waits of refuse() early when the proxy closes. */
  const refusalTimers = new Map<NodeJS.Timeout, () => void>();

  const directions = (d: Direction | 'both'): Direction[] => (d === 'both' ? ['to-gateway', 'to-client'] : [d]);

  const destroyConn = (c: Conn) => {
    if (c.destroyed) return;
    c.destroyed = true;
    c.client.destroy();
    c.upstream.destroy();
    conns.delete(c);
    for (const p of [c.toGateway, c.toClient]) {
      if (!p) continue;
      for (const item of p.queue.splice(0)) if (item.kind === 'bytes' && item.record?.outcome === 'pending') item.record.outcome = 'dropped';
    }
    wakeAll();
  };

  const wakeAll = () => {
    for (const w of [...resumeWaiters]) w();
  };

  /** Resolves on resume(), a drop, or after `ms` when given. */
  const nap = (ms?: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        resumeWaiters.delete(done);
        clearTimeout(timer);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      resumeWaiters.add(done);
    });

  const matches = (m: FrameMatch, r: FrameRecord) =>
    m.direction === r.direction &&
    r.fin &&
    (r.opcode === 'text' || r.opcode === 'binary' || r.opcode === 'continuation') &&
    (m.method === undefined || (r.type === 'req' && r.method === m.method)) &&
    (m.event === undefined || (r.type === 'event' && r.event === m.event)) &&
    (m.responseTo === undefined || (r.type === 'res' && r.responseTo === m.responseTo));

  const record = (pipe: Pipe, f: ParsedFrame): FrameRecord => {
    const r: FrameRecord = {
      seq: ++seq,
      conn: pipe.conn.id,
      direction: pipe.direction,
      at: Math.round(performance.now() - started),
      opcode: OPCODES[f.opcode] ?? 'reserved',
      fin: f.fin,
      size: f.payload.length,
      outcome: 'pending',
      faults: [],
      ...readMessage(pipe, f),
    };
    records.push(r);
    for (const w of [...frameWaiters]) {
      if (matches(w.match, r)) {
        frameWaiters.delete(w);
        w.resolve(r);
      }
    }
    return r;
  };

  /** Reads the JSON of a finished text message (fragmented ones included); permessage-deflate'd ones stay unread. */
  const readMessage = (pipe: Pipe, f: ParsedFrame): Partial<FrameRecord> => {
    if (f.opcode === 8) return f.payload.length >= 2 ? { closeCode: f.payload.readUInt16BE(0) } : {};
    let text: Buffer | undefined;
    if (f.opcode === 1 || f.opcode === 2) {
      if (!f.fin) {
        pipe.fragments = f.opcode === 1 && !f.rsv1 ? [f.payload] : undefined;
        pipe.fragmentOpcode = f.opcode;
        return {};
      }
      if (f.opcode === 1 && !f.rsv1) text = f.payload;
    } else if (f.opcode === 0) {
      if (pipe.fragments) pipe.fragments.push(f.payload);
      if (!f.fin) return {};
      if (pipe.fragments && pipe.fragmentOpcode === 1) text = Buffer.concat(pipe.fragments);
      pipe.fragments = undefined;
    }
    if (!text) return {};
    let msg: unknown;
    try {
      msg = JSON.parse(text.toString('utf8'));
    } catch {
      return {};
    }
    if (typeof msg !== 'object' || msg === null) return {};
    const m = msg as Record<string, unknown>;
    const id = typeof m.id === 'string' ? m.id : undefined;
    if (m.type === 'req' && typeof m.method === 'string') {
      if (id !== undefined) pipe.conn.methods.set(id, m.method);
      return { type: 'req', method: m.method, ...(id !== undefined ? { id } : {}) };
    }
    if (m.type === 'res') {
      const responseTo = id === undefined ? undefined : pipe.conn.methods.get(id);
      return { type: 'res', ok: m.ok === true, ...(id !== undefined ? { id } : {}), ...(responseTo !== undefined ? { responseTo } : {}) };
    }
    if (m.type === 'event' && typeof m.event === 'string') return { type: 'event', event: m.event };
    return {};
  };

  /** Decided on arrival, so nth counts frames in the order they reached the proxy. */
  const firingsFor = (r: FrameRecord): Firing[] => {
    const out: Firing[] = [];
    for (const t of triggers) {
      if (t.removed || !matches(t.match, r)) continue;
      t.matched++;
      if (t.matched < t.nth || t.fired >= t.times) continue;
      t.fired++;
      r.faults.push(actionName(t.action));
      out.push({ trigger: t });
    }
    return out;
  };

  const onData = (pipe: Pipe, chunk: Buffer) => {
    if (pipe.direction === 'to-gateway') sent.push(chunk);
    const receivedAt = performance.now();
    const push = (bytes: Buffer, rec?: FrameRecord, firings: readonly Firing[] = []) => {
      pipe.queue.push({ kind: 'bytes', bytes, receivedAt, ...(rec ? { record: rec } : {}), firings });
    };
    let rest: Buffer | undefined = chunk;
    if (pipe.mode === 'http') {
      pipe.head = Buffer.concat([pipe.head, chunk]);
      const end = pipe.head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (pipe.head.length > MAX_HTTP_HEAD) {
          pipe.mode = 'raw';
          push(pipe.head);
        }
        rest = undefined;
      } else {
        const head = pipe.head.subarray(0, end + 4);
        const text = head.toString('latin1');
        const upgrade = pipe.direction === 'to-gateway' ? /^upgrade:[ \t]*websocket/im.test(text) : /^HTTP\/1\.[01] 101 /.test(text);
        pipe.mode = upgrade ? 'ws' : 'raw';
        push(head);
        rest = pipe.head.subarray(end + 4);
        pipe.head = Buffer.alloc(0);
        if (rest.length === 0) rest = undefined;
      }
    }
    if (rest && pipe.mode === 'raw') push(rest);
    else if (rest && pipe.mode === 'ws') {
      for (const f of pipe.parser.push(rest)) {
        const r = record(pipe, f);
        push(f.raw, r, firingsFor(r));
      }
      if (pipe.parser.broken) {
        // Not WebSocket after all: stop reading it, keep passing it on.
        pipe.mode = 'raw';
        push(pipe.parser.takeRest());
      }
    }
    void run(pipe);
  };

  const write = async (pipe: Pipe, bytes: Buffer) => {
    if (pipe.conn.destroyed || pipe.to.destroyed) return;
    if (!pipe.to.write(bytes)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          pipe.to.off('drain', done);
          pipe.to.off('close', done);
          resolve();
        };
        pipe.to.on('drain', done).on('close', done);
      });
    }
  };

  /** Resolves once what was written so far has reached the kernel, so a destroy right after cannot discard it. */
  const flushed = (pipe: Pipe) =>
    new Promise<void>((resolve) => {
      if (pipe.conn.destroyed || pipe.to.destroyed) return resolve();
      pipe.to.write(Buffer.alloc(0), () => resolve());
    });

  const peerEnded = (pipe: Pipe) => (pipe.direction === 'to-gateway' ? pipe.conn.toClient : pipe.conn.toGateway)?.endQueued === true;

  const held = (pipe: Pipe) => pipe.stalled || globalStall[pipe.direction];

  /** Works through a direction's queue in order; one runner per pipe. */
  const run = async (pipe: Pipe): Promise<void> => {
    if (pipe.running) return;
    pipe.running = true;
    try {
      while (pipe.queue.length && !pipe.conn.destroyed) {
        const item = pipe.queue[0]!;
        const due = Math.max(item.receivedAt + latency[pipe.direction], pipe.holdUntil) - performance.now();
        if (due > 0) {
          await nap(due);
          continue; // latency, holds or a drop may have changed meanwhile
        }
        if (held(pipe)) {
          await nap();
          continue;
        }
        pipe.queue.shift();
        if (item.kind === 'end') {
          if (!pipe.to.destroyed) pipe.to.end();
          continue;
        }
        const rec = item.record;
        const after: Firing[] = [];
        let gone = false;
        let bytes = item.bytes;
        for (const f of item.firings) {
          const a = f.trigger.action;
          if (typeof a === 'object' && 'rewrite' in a) {
            bytes = rewriteFrame(bytes, a.rewrite);
            f.trigger.resolve(rec!);
            continue;
          }
          if (a === 'cut-mid-frame') {
            await write(pipe, item.bytes.subarray(0, Math.max(1, Math.floor(item.bytes.length / 2))));
            await flushed(pipe);
            if (rec) rec.outcome = 'cut';
            destroyConn(pipe.conn);
            f.trigger.resolve(rec!);
            gone = true;
            break;
          }
          if (!f.trigger.before) {
            after.push(f);
            continue;
          }
          if (a === 'drop') {
            if (rec) rec.outcome = 'dropped';
            destroyConn(pipe.conn);
            f.trigger.resolve(rec!);
            gone = true;
            break;
          }
          await runHold(pipe, f, rec!);
          if (pipe.conn.destroyed) {
            if (rec) rec.outcome = 'dropped';
            gone = true;
            break;
          }
        }
        if (gone) break;
        if (rec && peerEnded(pipe)) {
          // The receiver already closed its side (e.g. the gateway died while this frame was held):
          // over WebSocket nobody reads after that, so the frame is not delivered.
          rec.outcome = 'dropped';
        } else {
          await write(pipe, bytes);
          if (rec && rec.outcome === 'pending') rec.outcome = pipe.conn.destroyed ? 'dropped' : 'forwarded';
        }
        for (const f of after) {
          const a = f.trigger.action;
          if (a === 'drop') {
            await flushed(pipe);
            destroyConn(pipe.conn);
            f.trigger.resolve(rec!);
          } else if (a === 'stall') {
            pipe.stalled = true;
            f.trigger.resolve(rec!);
          } else if (typeof a === 'object' && 'delayMs' in a) {
            pipe.holdUntil = performance.now() + a.delayMs;
            f.trigger.resolve(rec!);
          } else if (typeof a === 'function') {
            void settle(a, f.trigger, rec!);
          }
        }
      }
    } finally {
      pipe.running = false;
    }
    if (pipe.queue.length && !pipe.conn.destroyed) void run(pipe);
  };

  /** The actions that hold the frame back: stall, delay, a callback. */
  const runHold = async (pipe: Pipe, f: Firing, rec: FrameRecord) => {
    const a = f.trigger.action;
    if (a === 'stall') {
      pipe.stalled = true;
      f.trigger.resolve(rec);
      while (held(pipe) && !pipe.conn.destroyed) await nap();
    } else if (typeof a === 'object' && 'delayMs' in a) {
      await sleep(a.delayMs);
      f.trigger.resolve(rec);
    } else if (typeof a === 'function') {
      await settle(a, f.trigger, rec);
    }
  };

  const settle = async (fn: () => unknown, t: Trigger, rec: FrameRecord) => {
    try {
      await fn();
      t.resolve(rec);
    } catch (e) {
      t.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };

  const newPipe = (conn: Conn, direction: Direction, from: net.Socket, to: net.Socket): Pipe => ({
    direction,
    conn,
    from,
    to,
    mode: 'http',
    head: Buffer.alloc(0),
    parser: new WsFrameParser(),
    fragments: undefined,
    fragmentOpcode: 0,
    queue: [],
    running: false,
    stalled: false,
    holdUntil: 0,
    endQueued: false,
  });

  const onClient = (client: net.Socket) => {
    if (closed) return void client.destroy();
    accepted++;
    const upstream = net.connect({ port: target.port, host, allowHalfOpen: true });
    const conn: Conn = { id: accepted, client, upstream, methods: new Map(), destroyed: false };
    conns.add(conn);
    const toGateway = (conn.toGateway = newPipe(conn, 'to-gateway', client, upstream));
    const toClient = (conn.toClient = newPipe(conn, 'to-client', upstream, client));
    for (const pipe of [toGateway, toClient]) {
      pipe.from.on('data', (d: Buffer) => onData(pipe, d));
      // Half-closes travel in order behind the data, so a close frame held by a delay still arrives before the FIN.
      pipe.from.on('end', () => endPipe(pipe));
      pipe.from.on('error', () => destroyConn(conn));
      pipe.from.on('close', () => {
        if (client.destroyed && upstream.destroyed) destroyConn(conn);
        else endPipe(pipe);
      });
    }
  };

  const endPipe = (pipe: Pipe) => {
    if (pipe.endQueued) return;
    pipe.endQueued = true;
    pipe.queue.push({ kind: 'end', receivedAt: performance.now() });
    void run(pipe);
  };

  let certDir: string | undefined;
  let tlsOptions: tls.TlsOptions | undefined;
  let fingerprint256: string | undefined;
  if (opts.tls) {
    certDir = mkdtempSync(join(tmpdir(), 'clawops-proxy-cert-'));
    const key = join(certDir, 'key.pem');
    const cert = join(certDir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const pem = readFileSync(cert);
    fingerprint256 = new X509Certificate(pem).fingerprint256;
    tlsOptions = { key: readFileSync(key), cert: pem, allowHalfOpen: true };
  }
  /** Raw sockets, including TLS ones that never finish their handshake (and so never reach onClient). */
  const raw = new Set<net.Socket>();
  const createServer = () => {
    const s = tlsOptions ? tls.createServer(tlsOptions, onClient) : net.createServer({ allowHalfOpen: true }, onClient);
    s.on('connection', (socket: net.Socket) => {
      raw.add(socket);
      socket.on('close', () => raw.delete(socket));
    });
    // Half-open is allowed for the proxying; a client that gave up on the handshake must not be kept.
    s.on('tlsClientError', (_e: Error, socket: net.Socket) => socket.destroy());
    return s;
  };
  const listen = (server: net.Server, port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });

  let server: net.Server | undefined = createServer();
  await listen(server, 0);
  const port = (server.address() as net.AddressInfo).port;

  const stopListening = () => {
    const s = server;
    server = undefined;
    // Open connections are not server.close()'s business here; they are destroyed separately.
    return s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
  };

  const makeTrigger = (match: FaultTrigger, action: FaultAction, o: FaultOptions = {}): FaultHandle => {
    let resolve!: (r: FrameRecord) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<FrameRecord>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => {}); // surfaced by wait(); an unobserved failure must not crash the run
    const t: Trigger = {
      match: { direction: match.direction, method: match.method, event: match.event, responseTo: match.responseTo },
      nth: Math.max(1, match.nth ?? 1),
      times: o.times ?? 1,
      before: o.before ?? true,
      action,
      matched: 0,
      fired: 0,
      removed: false,
      done,
      resolve,
      reject,
    };
    triggers.add(t);
    return {
      get matched() {
        return t.matched;
      },
      get fired() {
        return t.fired;
      },
      wait: (timeoutMs = 30_000) => withTimeout(t.done, timeoutMs, `fault trigger ${describeMatch(match)} → ${actionName(action)} did not fire within ${timeoutMs} ms`),
      remove: () => {
        t.removed = true;
        triggers.delete(t);
      },
    };
  };

  return {
    url: `${opts.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    port,
    ...(fingerprint256 ? { fingerprint256 } : {}),
    clientBytes: () => Buffer.concat(sent).toString('latin1'),
    connections: () => accepted,
    frames: () => [...records],
    waitFor: (match, timeoutMs = 30_000) => {
      const seen = records.find((r) => matches(match, r));
      if (seen) return Promise.resolve(seen);
      let w: { match: FrameMatch; resolve: (r: FrameRecord) => void } | undefined;
      const p = new Promise<FrameRecord>((resolve) => frameWaiters.add((w = { match, resolve })));
      return withTimeout(p, timeoutMs, `no frame ${describeMatch(match)} within ${timeoutMs} ms`).finally(() => frameWaiters.delete(w!));
    },
    delay: (ms, direction = 'both') => {
      for (const d of directions(direction)) latency[d] = Math.max(0, ms);
      wakeAll();
    },
    stall: (direction = 'to-client') => {
      for (const d of directions(direction)) globalStall[d] = true;
    },
    resume: () => {
      globalStall['to-gateway'] = globalStall['to-client'] = false;
      for (const c of conns) for (const p of [c.toGateway, c.toClient]) if (p) p.stalled = false;
      wakeAll();
    },
    dropAll: () => {
      for (const c of [...conns]) destroyConn(c);
    },
    refuse: (ms) => {
      // Not awaited: server.close() reports only after every open connection has ended.
      void stopListening();
      const id = (refusal?.id ?? 0) + 1;
      const done = (async () => {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            refusalTimers.delete(timer);
            resolve();
          }, ms);
          refusalTimers.set(timer, resolve);
        });
        if (closed) return;
        if (refusal && refusal.id !== id) return refusal.done; // a later refuse() extended it
        // The port was ours a moment ago; on loopback nobody else should have taken it, but say so if so.
        const next = createServer();
        await listen(next, port);
        server = next;
      })();
      refusal = { id, done };
      return done;
    },
    cutMidFrame: (direction = 'to-client') => makeTrigger({ direction }, 'cut-mid-frame'),
    on: makeTrigger,
    close: async () => {
      closed = true;
      for (const [timer, resolve] of refusalTimers) {
        clearTimeout(timer);
        resolve();
      }
      for (const c of [...conns]) destroyConn(c);
      for (const socket of raw) socket.destroy();
      await stopListening();
      for (const w of frameWaiters) frameWaiters.delete(w);
      if (certDir) rmSync(certDir, { recursive: true, force: true });
    },
  };
}

function actionName(a: FaultAction): string {
  if (typeof a === 'string') return a;
  if (typeof a === 'function') return 'callback';
  return 'rewrite' in a ? 'rewrite' : `delay ${a.delayMs} ms`;
}

function describeMatch(m: FrameMatch): string {
  const what = m.method ? `req ${m.method}` : m.responseTo ? `res to ${m.responseTo}` : m.event ? `event ${m.event}` : 'any message';
  return `${m.direction} ${what}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
