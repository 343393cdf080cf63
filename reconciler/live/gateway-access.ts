/**
 * How clawops reaches a Gateway from the fleet repo: its URL, its shared token and device token
 * (age secrets), and clawops' one device key (DESIGN §8). Every command that talks to gateways
 * opens sessions through here, so credentials are resolved, redacted and explained in one place.
 */
import { readFile } from 'node:fs/promises';
import { GatewayClient, type GatewayClientOptions } from '../../fleet/openclaw/client.ts';
import { loadDeviceIdentity, type DeviceIdentity } from '../../fleet/openclaw/device-identity.ts';
import { OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import type { OperatorScope } from '../../fleet/openclaw/protocol.ts';
import { ClawopsError } from '../errors.ts';
import type { LoadedOf } from '../load/resource.ts';
import type { Redactor } from '../redact/redactor.ts';
import { readSecret, secretFile } from '../secrets/age-store.ts';
import { CLAWOPS_VERSION } from '../version.ts';

/** The age secret holding clawops' Ed25519 device key (PKCS#8 PEM). */
export const DEVICE_KEY_SECRET = 'clawops-device-key';
/** Overrides the device key secret with a PEM (or the path of a PEM file), e.g. in CI. */
export const DEVICE_KEY_ENV = 'CLAWOPS_DEVICE_KEY';

export class DeviceKeyError extends ClawopsError<{ secret: string }> {
  readonly code = 'DEVICE_KEY';
}

export interface AccessContext {
  readonly root: string;
  readonly identities: readonly string[];
  readonly redactor: Redactor;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** clawops' device key: `CLAWOPS_DEVICE_KEY` if set, else `secrets/clawops-device-key.age`. */
export async function loadDevice(ctx: AccessContext): Promise<DeviceIdentity> {
  const fromEnv = ctx.env[DEVICE_KEY_ENV]?.trim();
  let pem: string;
  let source: string;
  if (fromEnv) {
    source = DEVICE_KEY_ENV;
    pem = fromEnv.startsWith('-----BEGIN')
      ? fromEnv
      : await readFile(fromEnv, 'utf8').catch((e: NodeJS.ErrnoException) => {
          throw new DeviceKeyError(`${DEVICE_KEY_ENV} names ${fromEnv}, which cannot be read: ${e.code ?? e.message}`, { secret: DEVICE_KEY_ENV });
        });
  } else {
    source = `secrets/${DEVICE_KEY_SECRET}.age`;
    const exists = await readFile(secretFile(ctx.root, DEVICE_KEY_SECRET)).then(
      () => true,
      () => false,
    );
    if (!exists) {
      throw new DeviceKeyError(
        `clawops has no device key yet (${source}); create it and pair with a gateway: \`clawops gateway pair NAME\``,
        { secret: DEVICE_KEY_SECRET },
      );
    }
    pem = await readSecret(ctx.root, DEVICE_KEY_SECRET, ctx.identities, ctx.redactor);
  }
  ctx.redactor.add(pem.trim(), 'device-key');
  try {
    return loadDeviceIdentity(pem);
  } catch (e) {
    throw new DeviceKeyError(`the device key in ${source} is unusable: ${(e as Error).message}`, { secret: source });
  }
}

export interface SessionOptions {
  readonly scopes: readonly OperatorScope[];
  readonly device: DeviceIdentity;
  readonly requestTimeoutMs?: number;
  readonly startupTimeoutMs?: number;
}

/** Connection options for a Gateway resource; decrypts its token(s). */
export async function gatewayClientOptions(gw: LoadedOf<'Gateway'>, ctx: AccessContext, opts: SessionOptions): Promise<GatewayClientOptions> {
  const spec = gw.value.spec;
  const token = await readSecret(ctx.root, spec.auth.token.secretRef, ctx.identities, ctx.redactor);
  const deviceToken = spec.auth.deviceToken ? await readSecret(ctx.root, spec.auth.deviceToken.secretRef, ctx.identities, ctx.redactor) : undefined;
  return {
    url: spec.url,
    token,
    ...(deviceToken ? { deviceToken } : {}),
    device: opts.device,
    scopes: opts.scopes,
    clientVersion: CLAWOPS_VERSION,
    displayName: 'clawops',
    ...(spec.tls?.fingerprint256 ? { tlsFingerprint256: spec.tls.fingerprint256 } : {}),
    ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    startupTimeoutMs: opts.startupTimeoutMs ?? 15_000,
  };
}

export async function openGateway(options: GatewayClientOptions): Promise<OpenClawGateway> {
  return new OpenClawGateway(await GatewayClient.connect(options));
}
