/**
 * The `connect` request of protocol 4 (research §2.2–2.4): protocol range, client identity,
 * the Ed25519 device signature over the challenge, then the shared or the device token.
 * Refusals carry the real gateway's codes and close the socket the same way.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { PROTOCOL_VERSION, type ConnectChallenge } from '../openclaw/protocol.ts';
import { isPlainObject, type JsonRecord } from './json.ts';
import { SimRequestError, authRefused, invalidRequest } from './sim-errors.ts';
import type { SimGatewayState } from './gateway-state.ts';

const CLIENT_IDS = new Set([
  'webchat-ui', 'openclaw-control-ui', 'openclaw-browser-copilot', 'openclaw-tui', 'webchat', 'cli', 'gateway-client', 'openclaw-macos',
  'openclaw-linux', 'openclaw-ios', 'openclaw-watchos', 'openclaw-android', 'node-host', 'openclaw-worker', 'test', 'fingerprint', 'openclaw-probe',
]);
const SCOPES = new Set(['operator.read', 'operator.write', 'operator.admin', 'operator.approvals', 'operator.pairing']);

export interface Admitted {
  readonly scopes: readonly string[];
  /** Whose rate-limit window this session's writes count against. */
  readonly deviceKey: string;
  readonly deviceToken: string | undefined;
  readonly authMethod: 'token' | 'device-token';
}

export function admit(state: SimGatewayState, challenge: ConnectChallenge, params: unknown): Admitted {
  if (!isPlainObject(params)) throw invalidRequest('invalid connect params: must be object');
  const { minProtocol, maxProtocol } = params;
  if (typeof minProtocol !== 'number' || typeof maxProtocol !== 'number' || minProtocol > PROTOCOL_VERSION || maxProtocol < PROTOCOL_VERSION) {
    throw new SimRequestError(
      {
        code: 'INVALID_REQUEST',
        message: 'protocol mismatch',
        details: { code: 'PROTOCOL_MISMATCH', clientMinProtocol: minProtocol ?? null, clientMaxProtocol: maxProtocol ?? null, expectedProtocol: PROTOCOL_VERSION, minimumProbeProtocol: 3 },
      },
      1002,
    );
  }
  const client = isPlainObject(params.client) ? params.client : {};
  if (typeof client.id !== 'string' || !CLIENT_IDS.has(client.id)) throw refusedParams('at /client/id: must be equal to one of the allowed values');
  if (params.role !== undefined && params.role !== 'operator') throw refusedParams('the simulator only admits role "operator"');
  const scopes = Array.isArray(params.scopes) ? params.scopes.filter((s): s is string => typeof s === 'string' && SCOPES.has(s)) : [];
  const auth = isPlainObject(params.auth) ? params.auth : {};
  const sentToken = typeof auth.token === 'string' ? auth.token : typeof auth.deviceToken === 'string' ? auth.deviceToken : '';

  const device = isPlainObject(params.device) ? params.device : undefined;
  const deviceId = device ? checkDevice(device, challenge, { client, role: 'operator', scopes: params.scopes, token: sentToken }) : undefined;

  if (auth.token === state.sharedToken && sentToken) {
    // Without a device only the reserved local identities keep their scopes (research §2.4).
    const reserved = (client.id === 'cli' && client.mode === 'cli') || (client.id === 'gateway-client' && client.mode === 'backend');
    if (!deviceId && !reserved) return { scopes: [], deviceKey: 'shared-auth', deviceToken: undefined, authMethod: 'token' };
    return { scopes, deviceKey: deviceId ?? 'shared-auth', deviceToken: deviceId ? state.deviceTokenFor(deviceId) : undefined, authMethod: 'token' };
  }
  const issued = deviceId ? state.issuedDeviceToken(deviceId) : undefined;
  if (issued && sentToken === issued && deviceId) return { scopes, deviceKey: deviceId, deviceToken: issued, authMethod: 'device-token' };
  if (typeof auth.deviceToken === 'string') {
    throw authRefused('unauthorized: device token mismatch (rotate/reissue device token)', { code: 'AUTH_DEVICE_TOKEN_MISMATCH', authReason: 'device_token_mismatch' });
  }
  throw authRefused(`unauthorized: gateway token ${sentToken ? 'mismatch' : 'missing'} (provide gateway auth token)`, {
    code: sentToken ? 'AUTH_TOKEN_MISMATCH' : 'AUTH_TOKEN_MISSING',
    authReason: sentToken ? 'token_mismatch' : 'token_missing',
    canRetryWithDeviceToken: true,
    recommendedNextStep: 'retry_with_device_token',
  });
}

/** Returns the verified device id. Accepts the v3 payload and the legacy v2 one. */
function checkDevice(device: JsonRecord, challenge: ConnectChallenge, f: { client: JsonRecord; role: string; scopes: unknown; token: string }): string {
  const { id, publicKey, signature, signedAt, nonce } = device;
  if (typeof id !== 'string' || typeof publicKey !== 'string' || typeof signature !== 'string') throw refusedParams('at /device: must have id, publicKey and signature');
  if (nonce !== challenge.nonce || signedAt !== challenge.ts) {
    throw authRefused('unauthorized: device nonce mismatch', { code: 'DEVICE_AUTH_NONCE_MISMATCH', reason: 'device-nonce' });
  }
  const raw = Buffer.from(publicKey, 'base64url');
  if (raw.length !== 32 || createHash('sha256').update(raw).digest('hex') !== id) {
    throw authRefused('unauthorized: device id does not match its public key', { code: 'DEVICE_AUTH_DEVICE_ID_MISMATCH', reason: 'device-id' });
  }
  const scopes = Array.isArray(f.scopes) ? f.scopes.join(',') : '';
  const common = [id, String(f.client.id), String(f.client.mode ?? ''), f.role, scopes, String(signedAt), f.token, String(nonce)];
  const v3 = ['v3', ...common, String(f.client.platform ?? '').toLowerCase(), String(f.client.deviceFamily ?? '').toLowerCase()].join('|');
  const v2 = ['v2', ...common].join('|');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
  const sig = Buffer.from(signature, 'base64url');
  if (!verify(null, Buffer.from(v3), key, sig) && !verify(null, Buffer.from(v2), key, sig)) {
    throw authRefused('unauthorized: device signature invalid', { code: 'DEVICE_AUTH_SIGNATURE_INVALID', reason: 'device-signature' });
  }
  return id;
}

function refusedParams(detail: string): SimRequestError {
  return new SimRequestError({ code: 'INVALID_REQUEST', message: `invalid connect params: ${detail}` }, 1008);
}
