/**
 * Opening a session with one overall deadline. The client bounds each step (socket, challenge,
 * answer to `connect`) but retries a gateway that says it is starting; a fleet-wide command must
 * not wait that out for one gateway. A session that opens after the deadline is closed at once
 * instead of leaking.
 */
import type { GatewayClientOptions } from '../../fleet/openclaw/client.ts';
import { GatewayTimeoutError } from '../../fleet/openclaw/errors.ts';
import type { OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import { openGateway } from './gateway-access.ts';

export async function openGatewayWithin(options: GatewayClientOptions, timeoutMs: number): Promise<OpenClawGateway> {
  const pending = openGateway({ ...options, challengeTimeoutMs: Math.min(options.challengeTimeoutMs ?? timeoutMs, timeoutMs) });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GatewayTimeoutError('connect', timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([pending, deadline]);
  } catch (e) {
    pending.then((g) => g.client.close(), () => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
