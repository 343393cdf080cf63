/**
 * One sentence, with the fix, for anything that went wrong with a gateway: used by `status` (per
 * gateway, never fatal) and by commands that need the gateway (exit 1).
 */
import {
  AuthError,
  ConnectionLostError,
  FrameTooLargeError,
  GatewayError,
  GatewayTimeoutError,
  GatewayUnreachableError,
  MissingScopeError,
  PairingRequiredError,
  RateLimitedError,
} from '../../fleet/openclaw/errors.ts';

export interface GatewayProblem {
  /** Stable, for `--json`: unreachable, auth, pairing, scope, rate-limited, timeout, … */
  readonly kind: string;
  readonly message: string;
}

export function explainGatewayError(e: unknown, gateway: string): GatewayProblem {
  if (e instanceof PairingRequiredError) {
    const req = e.requestId ? ` \`openclaw devices approve ${e.requestId}\`` : ' `openclaw devices list` / `openclaw devices approve <requestId>`';
    return { kind: 'pairing', message: `${gateway} has not approved clawops' device yet; the gateway's operator runs${req}, then retry` };
  }
  if (e instanceof AuthError) {
    const fix =
      e.reason === 'AUTH_TOKEN_MISMATCH'
        ? "check the Gateway's auth.token secret (`clawops secrets set NAME`)"
        : e.reason === 'AUTH_DEVICE_TOKEN_MISMATCH' || e.reason === 'AUTH_SCOPE_MISMATCH'
          ? 're-pair with `clawops gateway pair ' + gateway + '`'
          : e.reason === 'PROTOCOL_MISMATCH'
            ? 'this clawops speaks protocol 4 (OpenClaw 2026.7 or newer); upgrade the gateway or clawops'
            : 'check the Gateway’s credentials';
    return { kind: 'auth', message: `${gateway} refused the connection (${e.reason}: ${e.message}); ${fix}` };
  }
  if (e instanceof MissingScopeError) {
    return { kind: 'scope', message: `${gateway}: ${e.method} needs scope ${e.missingScope ?? e.requiredScopes.join(', ')}; re-pair clawops with that scope` };
  }
  if (e instanceof RateLimitedError) {
    const s = Math.ceil((e.retryAfterMs ?? 60_000) / 1000);
    return { kind: 'rate-limited', message: `${gateway}: ${e.method} is rate limited (${String(e.details.limit ?? '30 per 60s')}); retry in ${s}s` };
  }
  if (e instanceof GatewayTimeoutError) return { kind: 'timeout', message: `${gateway}: ${e.message}; the gateway may be restarting or overloaded` };
  if (e instanceof ConnectionLostError) return { kind: 'connection-lost', message: `${gateway}: ${e.message}` };
  if (e instanceof FrameTooLargeError) return { kind: 'frame-too-large', message: `${gateway}: ${e.message}` };
  if (e instanceof GatewayUnreachableError) return { kind: 'unreachable', message: `${gateway} is unreachable: ${e.message}` };
  if (e instanceof GatewayError) return { kind: 'gateway-error', message: `${gateway}: ${e.method} failed (${e.code}): ${e.message}` };
  return { kind: 'error', message: `${gateway}: ${(e as Error).message}` };
}
