/**
 * A scripted stand-in for an OpenClaw gateway, for states the shared real gateway must not be put
 * in (a pending restart, failing health, an unapproved device). It speaks just enough of protocol 4
 * (challenge → connect → hello-ok → req/res) for GatewayClient; contract tests prove the real
 * gateway's side of these shapes.
 */
import { WebSocketServer } from 'ws';

export interface FakeReply {
  readonly ok: boolean;
  readonly payload?: unknown;
  readonly error?: { code: string; message: string; details?: unknown; retryable?: boolean };
}

/** A method handler returning this cuts the connection instead of answering (a lost answer). */
export const DROP = Symbol('drop the connection');

export interface FakeGatewayScript {
  /** Answers `connect` (undefined: never answers); default: hello-ok for 2026.9.6 with a device token. */
  readonly connect?: (params: Record<string, unknown>) => FakeReply | undefined;
  readonly methods?: Readonly<Record<string, (params: unknown) => unknown>>;
}

export interface FakeGateway {
  readonly url: string;
  /** Methods called, in order (after connect). */
  readonly calls: string[];
  close(): Promise<void>;
}

export function helloOk(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'hello-ok',
    protocol: 4,
    server: { version: '2026.9.6', connId: 'fake' },
    features: { methods: [], events: [] },
    snapshot: { appliedConfigHash: 'hmac-sha256:v1:applied' },
    auth: { method: 'token', role: 'operator', scopes: ['operator.read'], deviceToken: 'fake-device-token-0123456789' },
    policy: { maxPayload: 26214400, maxBufferedBytes: 52428800, tickIntervalMs: 30000 },
    ...overrides,
  };
}

export async function startFakeGateway(script: FakeGatewayScript): Promise<FakeGateway> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const calls: string[] = [];
  server.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'event', event: 'connect.challenge', payload: { nonce: 'fake-nonce', ts: Date.now() } }));
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { id: string; method: string; params: Record<string, unknown> };
      let reply: FakeReply | undefined;
      if (frame.method === 'connect') {
        reply = script.connect ? script.connect(frame.params) : { ok: true, payload: helloOk() };
      } else {
        calls.push(frame.method);
        const handler = script.methods?.[frame.method];
        const payload = handler ? handler(frame.params) : undefined;
        if (payload === DROP) return void ws.terminate();
        reply = handler ? { ok: true, payload } : { ok: false, error: { code: 'INVALID_REQUEST', message: `unknown method: ${frame.method}` } };
      }
      if (!reply) return;
      ws.send(JSON.stringify({ type: 'res', id: frame.id, ...reply }));
      if (frame.method === 'connect' && !reply.ok) ws.close(1008, 'connect refused');
    });
  });
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  };
}
