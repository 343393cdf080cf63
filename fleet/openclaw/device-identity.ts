/**
 * clawops' device identity: one stable Ed25519 key per installation (research §2.3–2.4). The
 * gateway pairs a device once and persists it, so a key made up per connection would leave a
 * trail of paired devices; callers load the same key every time.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface DeviceIdentity {
  /** Lowercase hex SHA-256 of the raw 32-byte public key: the gateway's `device.id`. */
  readonly id: string;
  /** The raw public key, base64url without padding. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

export function generateDeviceIdentity(): DeviceIdentity {
  return identityOf(generateKeyPairSync('ed25519').privateKey);
}

/** Loads a key from PKCS#8 PEM, the form `exportDeviceKey` writes. */
export function loadDeviceIdentity(pem: string): DeviceIdentity {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`not a PKCS#8 PEM private key (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the device key must be Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return identityOf(key);
}

export function exportDeviceKey(identity: DeviceIdentity): string {
  return identity.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function identityOf(privateKey: KeyObject): DeviceIdentity {
  // The SPKI DER of an Ed25519 key ends with the 32 raw key bytes.
  const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  return { id: createHash('sha256').update(raw).digest('hex'), publicKey: raw.toString('base64url'), privateKey };
}

export interface DeviceAuthFields {
  readonly clientId: string;
  readonly clientMode: string;
  readonly role: string;
  readonly scopes: readonly string[];
  readonly signedAt: number;
  /** The value sent as `auth.token` (shared or device token); empty when none. */
  readonly token: string;
  readonly nonce: string;
  readonly platform: string;
  readonly deviceFamily?: string;
}

/** The `device` block of `connect`: a v3 signature over the challenge (research §2.3). */
export function signConnect(identity: DeviceIdentity, f: DeviceAuthFields) {
  const payload = [
    'v3',
    identity.id,
    f.clientId,
    f.clientMode,
    f.role,
    f.scopes.join(','),
    String(f.signedAt),
    f.token,
    f.nonce,
    f.platform.toLowerCase(),
    (f.deviceFamily ?? '').toLowerCase(),
  ].join('|');
  return {
    id: identity.id,
    publicKey: identity.publicKey,
    signature: sign(null, Buffer.from(payload, 'utf8'), identity.privateKey).toString('base64url'),
    signedAt: f.signedAt,
    nonce: f.nonce,
  };
}
