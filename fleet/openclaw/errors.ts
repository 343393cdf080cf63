/**
 * Everything that can go wrong talking to a gateway, as typed errors. Callers branch on the class
 * (and `code`/`details`), never on message text; the gateway's messages are matched here, once,
 * only where the protocol gives no structured code (research §3.3).
 */

/** The error object of a `res` frame (research §2.1). */
export interface GatewayErrorShape {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
  readonly retryable?: boolean;
  readonly retryAfterMs?: number;
}

export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Base class of every error the gateway itself answered with. */
export class GatewayError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly method: string;

  constructor(method: string, shape: GatewayErrorShape) {
    super(shape.message);
    this.name = new.target.name;
    this.method = method;
    this.code = shape.code;
    this.details = isRecord(shape.details) ? shape.details : {};
    this.retryable = shape.retryable === true;
    this.retryAfterMs = shape.retryAfterMs;
  }

  /** The structured code inside `details` (`MISSING_SCOPE`, `AUTH_TOKEN_MISMATCH`, …), if any. */
  get detailCode(): string | undefined {
    return typeof this.details.code === 'string' ? this.details.code : undefined;
  }
}

/** A hash-guarded write lost the race: someone changed the document since it was read. Re-read, re-plan. */
export class StaleHashError extends GatewayError {
  readonly document: 'config' | 'exec-approvals' | 'agent-file';
  constructor(method: string, shape: GatewayErrorShape, document: StaleHashError['document']) {
    super(method, shape);
    this.document = document;
  }
}

export class MissingScopeError extends GatewayError {
  get missingScope(): string | undefined {
    return typeof this.details.missingScope === 'string' ? this.details.missingScope : undefined;
  }
  get requiredScopes(): readonly string[] {
    return stringArray(this.details.requiredScopes);
  }
}

/** 30 control-plane writes per method per minute per device (research §3.6). */
export class RateLimitedError extends GatewayError {}

export class InvalidConfigError extends GatewayError {
  get issues(): readonly ConfigIssue[] {
    const raw = Array.isArray(this.details.issues) ? (this.details.issues as unknown[]) : [];
    return raw.filter(isRecord).map((i) => ({ path: String(i.path ?? ''), message: String(i.message ?? '') }));
  }
}

/** A patch shrank an array without naming it in `replacePaths`. */
export class ReplacePathsRequiredError extends GatewayError {
  readonly paths: readonly string[];
  constructor(method: string, shape: GatewayErrorShape, paths: readonly string[]) {
    super(method, shape);
    this.paths = paths;
  }
}

/**
 * A write would remove agents from the roster. The gateway deletes agents only through
 * `agents.delete`, never by omission (`config.apply`) nor by a `null` in `config.patch`.
 */
export class AgentDeletionRefusedError extends GatewayError {
  readonly agentIds: readonly string[];
  constructor(method: string, shape: GatewayErrorShape, agentIds: readonly string[]) {
    super(method, shape);
    this.agentIds = agentIds;
  }
}

/**
 * The write reached disk but a concurrent write replaced it before the running gateway took it
 * ("superseded"). Live state is unknown: re-read before deciding anything.
 */
export class WriteNotAppliedError extends GatewayError {}

/** `connect` was refused: wrong token, bad signature, unknown device token, protocol mismatch… */
export class AuthError extends GatewayError {
  /** The gateway's reason, e.g. `AUTH_TOKEN_MISMATCH` or `DEVICE_AUTH_SIGNATURE_INVALID`. */
  get reason(): string {
    return this.detailCode ?? this.code;
  }
  get recommendedNextStep(): string | undefined {
    return typeof this.details.recommendedNextStep === 'string' ? this.details.recommendedNextStep : undefined;
  }
}

/** The device is not paired yet and the gateway does not auto-approve it (any non-loopback client). */
export class PairingRequiredError extends AuthError {
  get requestId(): string | undefined {
    for (const k of ['requestId', 'deviceRequestId']) if (typeof this.details[k] === 'string') return this.details[k];
    return undefined;
  }
}

/** Errors of the connection rather than of the gateway's answer. */
export class GatewayTransportError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Could not open a session at all: refused, DNS, TLS, pinned fingerprint mismatch, startup never finished. */
export class GatewayUnreachableError extends GatewayTransportError {}

/** No answer in time. For a write the outcome is unknown: re-read before deciding anything. */
export class GatewayTimeoutError extends GatewayTransportError {
  readonly method: string;
  readonly timeoutMs: number;
  constructor(method: string, timeoutMs: number) {
    super(`${method} got no answer within ${timeoutMs} ms`);
    this.method = method;
    this.timeoutMs = timeoutMs;
  }
}

/** The socket closed while a request was in flight. For a write the outcome is unknown. */
export class ConnectionLostError extends GatewayTransportError {
  readonly method: string;
  readonly closeCode: number;
  constructor(method: string, closeCode: number, reason: string) {
    super(`${method}: connection closed (${closeCode}${reason ? ` ${reason}` : ''}) before the gateway answered`);
    this.method = method;
    this.closeCode = closeCode;
  }
}

/** A frame larger than the gateway accepts (`hello-ok.policy.maxPayload`); refused before sending. */
export class FrameTooLargeError extends GatewayTransportError {
  readonly bytes: number;
  readonly limit: number;
  constructor(method: string, bytes: number, limit: number) {
    super(`${method}: request of ${bytes} bytes exceeds the gateway's frame limit of ${limit} bytes`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** The client was closed by its owner; pending and later requests fail with this. */
export class ClientClosedError extends GatewayTransportError {}

/** Turns a `res` error into the most specific typed error. */
export function toGatewayError(method: string, shape: GatewayErrorShape): GatewayError {
  const details = isRecord(shape.details) ? shape.details : {};
  const msg = shape.message;
  if (method === 'connect') {
    const code = typeof details.code === 'string' ? details.code : '';
    if (code === 'PAIRING_REQUIRED' || /pairing required/i.test(msg)) return new PairingRequiredError(method, shape);
    if (code || /unauthorized|protocol mismatch|auth/i.test(msg)) return new AuthError(method, shape);
  }
  if (shape.code === 'FORBIDDEN' && (details.code === 'MISSING_SCOPE' || /missing scope/i.test(msg))) return new MissingScopeError(method, shape);
  if (shape.code === 'UNAVAILABLE' && /rate limit/i.test(msg)) return new RateLimitedError(method, shape);
  // The gateway gives no structured code for these (research §3.3, §4.5); the messages are stable.
  if (/^config changed since last load/.test(msg)) return new StaleHashError(method, shape, 'config');
  if (/^exec approvals changed since last load/.test(msg)) return new StaleHashError(method, shape, 'exec-approvals');
  if (details.type === 'agent_file_conflict') return new StaleHashError(method, shape, 'agent-file');
  const shrink = /would remove entries from array path\(s\): (.+?)\. Pass replacePaths/.exec(msg);
  if (shrink?.[1]) return new ReplacePathsRequiredError(method, shape, shrink[1].split(/,\s*/));
  const roster = /would drop agent roster entries without an explicit deletion: (.+?)\.?$/.exec(msg);
  if (roster?.[1]) return new AgentDeletionRefusedError(method, shape, roster[1].split(/,\s*/));
  if (/persisted but was not applied/.test(msg)) return new WriteNotAppliedError(method, shape);
  if (/^invalid config/.test(msg)) return new InvalidConfigError(method, shape);
  return new GatewayError(method, shape);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
