/**
 * The OpenClaw gateway's wire protocol 4, as far as clawops speaks it (research §2). Only the
 * fields clawops reads are typed; everything else stays `unknown` so a newer gateway adding fields
 * never breaks us.
 */
import type { GatewayErrorShape } from './errors.ts';

export const PROTOCOL_VERSION = 4;

/** `client.id` is a closed enum on the gateway; `cli` is the one that fits an operator tool. */
export const CLIENT_ID = 'cli';
export const CLIENT_MODE = 'cli';

/** Frames before `hello-ok` may not exceed 64 KiB (research §2.1). */
export const PRE_CONNECT_MAX_PAYLOAD = 64 * 1024;

export type OperatorScope = 'operator.read' | 'operator.write' | 'operator.admin' | 'operator.approvals' | 'operator.pairing';

export interface RequestFrame {
  readonly type: 'req';
  readonly id: string;
  readonly method: string;
  readonly params?: unknown;
}

export interface ResponseFrame {
  readonly type: 'res';
  readonly id: string;
  readonly ok: boolean;
  readonly payload?: unknown;
  readonly error?: GatewayErrorShape;
}

export interface EventFrame {
  readonly type: 'event';
  readonly event: string;
  readonly payload?: unknown;
  readonly seq?: number;
}

export type InboundFrame = ResponseFrame | EventFrame;

export interface ConnectChallenge {
  readonly nonce: string;
  readonly ts: number;
}

export interface HelloPolicy {
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
  readonly tickIntervalMs: number;
}

export interface HelloOk {
  readonly type: 'hello-ok';
  readonly protocol: number;
  readonly server: { readonly version: string; readonly buildId?: string; readonly bootId?: string; readonly connId?: string };
  readonly features: { readonly methods: readonly string[]; readonly events: readonly string[]; readonly capabilities?: readonly string[] };
  readonly snapshot: {
    readonly uptimeMs?: number;
    readonly appliedConfigHash?: string;
    readonly configPath?: string;
    readonly stateDir?: string;
    readonly authMode?: string;
    readonly [key: string]: unknown;
  };
  readonly auth?: {
    readonly method?: string;
    readonly role?: string;
    readonly scopes?: readonly string[];
    /** Issued to a paired device; replaces the shared token on later connects. */
    readonly deviceToken?: string;
  };
  readonly policy: HelloPolicy;
}

export function parseInbound(text: string): InboundFrame | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const f = v as { type?: unknown; id?: unknown; event?: unknown };
  if (f.type === 'res' && typeof f.id === 'string') return v as ResponseFrame;
  if (f.type === 'event' && typeof f.event === 'string') return v as EventFrame;
  return undefined;
}
