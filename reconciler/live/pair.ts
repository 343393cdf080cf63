/**
 * `clawops gateway pair` (DESIGN §8): make sure clawops has its one device key, connect to a
 * Gateway with its shared token as that device, and keep the device token the gateway issues.
 * Loopback gateways approve the device on the spot; any other gateway answers "pairing required"
 * until its operator approves the request, and running the pairing again then completes it.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportDeviceKey, generateDeviceIdentity, type DeviceIdentity } from '../../fleet/openclaw/device-identity.ts';
import { PairingRequiredError } from '../../fleet/openclaw/errors.ts';
import type { OperatorScope } from '../../fleet/openclaw/protocol.ts';
import { ClawopsError } from '../errors.ts';
import type { LoadedOf } from '../load/resource.ts';
import { checkSecretName, encryptSecret, secretFile, writeSecretFiles } from '../secrets/age-store.ts';
import { explainGatewayError } from './explain-gateway-error.ts';
import { openGatewayWithin } from './connect-within.ts';
import { DEVICE_KEY_ENV, DEVICE_KEY_SECRET, gatewayClientOptions, loadDevice, type AccessContext } from './gateway-access.ts';
import { addDeviceTokenRef, GatewayYamlError } from './gateway-yaml.ts';

/** Pairing asks for what `apply` will need; `status` later connects with less (operator.read). */
export const PAIR_SCOPES: readonly OperatorScope[] = ['operator.admin'];

export class PairError extends ClawopsError<{ gateway: string; kind: string }> {
  readonly code = 'PAIR';
}

export interface PairResult {
  readonly gateway: string;
  readonly url: string;
  readonly device: { readonly id: string; readonly publicKey: string };
  /** Where the device key came from; `created` means this run generated and stored it. */
  readonly deviceKey: 'created' | 'repo' | 'env';
  readonly requestedScopes: readonly string[];
  readonly status: 'paired' | 'pending-approval';
  /** Pending only: the gateway's pairing request, when it named one. */
  readonly requestId: string | null;
  /** Pending only: what the gateway's operator runs. */
  readonly approveCommand: string | null;
  /** Paired only. */
  readonly grantedScopes: readonly string[] | null;
  readonly deviceTokenSecret: string | null;
  /** The Gateway file when this run added `spec.auth.deviceToken` to it. */
  readonly updatedFile: string | null;
}

export interface PairOptions {
  readonly recipients: readonly string[];
  readonly timeoutMs: number;
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

/** The device key clawops already has (env or repo), or a new one stored in the repo. */
export async function ensureDevice(ctx: AccessContext, recipients: readonly string[]): Promise<{ device: DeviceIdentity; source: PairResult['deviceKey'] }> {
  if (ctx.env[DEVICE_KEY_ENV]?.trim()) return { device: await loadDevice(ctx), source: 'env' };
  if (await exists(secretFile(ctx.root, DEVICE_KEY_SECRET))) return { device: await loadDevice(ctx), source: 'repo' };
  const device = generateDeviceIdentity();
  const pem = exportDeviceKey(device);
  ctx.redactor.add(pem.trim(), 'device-key');
  // Stored before connecting: an approval the gateway's operator grants is for this key.
  await writeSecretFiles(ctx.root, [{ name: DEVICE_KEY_SECRET, armored: await encryptSecret(pem, recipients) }]);
  return { device, source: 'created' };
}

export async function pairGateway(gw: LoadedOf<'Gateway'>, ctx: AccessContext, opts: PairOptions): Promise<PairResult> {
  const spec = gw.value.spec;
  const tokenSecret = spec.auth.deviceToken?.secretRef ?? `${gw.name}-device-token`;
  checkSecretName(tokenSecret);
  const { device, source } = await ensureDevice(ctx, opts.recipients);
  const base = {
    gateway: gw.name,
    url: spec.url,
    device: { id: device.id, publicKey: device.publicKey },
    deviceKey: source,
    requestedScopes: [...PAIR_SCOPES],
  };
  // Pairing is by the shared token alone: a device token referenced but not issued yet must not stop it.
  const sharedOnly: LoadedOf<'Gateway'> = { ...gw, value: { ...gw.value, spec: { ...spec, auth: { token: spec.auth.token } } } };
  const options = await gatewayClientOptions(sharedOnly, ctx, { scopes: PAIR_SCOPES, device, requestTimeoutMs: opts.timeoutMs, startupTimeoutMs: opts.timeoutMs });
  let issued: { token: string | undefined; scopes: readonly string[] };
  try {
    const gateway = await openGatewayWithin({ ...options, reconnect: false }, opts.timeoutMs);
    const auth = gateway.client.hello.auth;
    issued = { token: auth?.deviceToken, scopes: auth?.scopes ?? [] };
    await gateway.client.close();
  } catch (e) {
    if (e instanceof PairingRequiredError) {
      const requestId = e.requestId ?? null;
      return {
        ...base,
        status: 'pending-approval',
        requestId,
        approveCommand: requestId ? `openclaw devices approve ${requestId}` : 'openclaw devices list   # then: openclaw devices approve <requestId>',
        grantedScopes: null,
        deviceTokenSecret: null,
        updatedFile: null,
      };
    }
    const problem = explainGatewayError(e, gw.name);
    throw new PairError(problem.message, { gateway: gw.name, kind: problem.kind }, { cause: e });
  }
  if (!issued.token) {
    throw new PairError(
      `${gw.name} accepted clawops' device but issued no device token; is the gateway older than protocol 4, or is device auth turned off on it?`,
      { gateway: gw.name, kind: 'no-device-token' },
    );
  }
  ctx.redactor.add(issued.token, tokenSecret);
  await writeSecretFiles(ctx.root, [{ name: tokenSecret, armored: await encryptSecret(issued.token, opts.recipients) }]);
  const updatedFile = spec.auth.deviceToken ? null : await referenceDeviceToken(ctx.root, gw, tokenSecret);
  return { ...base, status: 'paired', requestId: null, approveCommand: null, grantedScopes: [...issued.scopes], deviceTokenSecret: tokenSecret, updatedFile };
}

async function referenceDeviceToken(root: string, gw: LoadedOf<'Gateway'>, secretName: string): Promise<string | null> {
  const path = join(root, gw.file);
  const text = await readFile(path, 'utf8');
  let updated: string | undefined;
  try {
    updated = addDeviceTokenRef(text, gw.documentIndex, secretName);
  } catch (e) {
    if (!(e instanceof GatewayYamlError)) throw e;
    throw new PairError(
      `paired, and the device token is stored in secrets/${secretName}.age, but ${gw.file} could not be edited (${e.message}); add \`deviceToken: { secretRef: ${secretName} }\` under spec.auth yourself`,
      { gateway: gw.name, kind: 'yaml-edit' },
    );
  }
  if (updated === undefined) return null;
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, updated, { flag: 'wx', mode: (await stat(path)).mode & 0o777 });
  await rename(temp, path);
  return gw.file;
}
