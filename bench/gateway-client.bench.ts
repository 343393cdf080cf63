/**
 * The cost of talking to a real gateway: connect + handshake (challenge, signed device identity,
 * hello-ok) and `config.get` round trips, on one real OpenClaw gateway started by the harness.
 * Reports median and p95; the first connect and call are warm-ups (the gateway compiles lazily).
 */
import { performance } from 'node:perf_hooks';
import { startGateways } from '../fleet/harness/real-gateway.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { OpenClawGateway } from '../fleet/openclaw/gateway-api.ts';
import type { BenchResult } from './report.ts';
import { percentile } from './stats.ts';

const CONNECTS = 30;
const GETS = 100;

export async function run(): Promise<BenchResult> {
  const [gw] = await startGateways([{ name: 'bench' }]);
  if (!gw) throw new Error('no gateway started');
  try {
    const device = generateDeviceIdentity();
    const options = { url: gw.url, token: gw.token, device, scopes: ['operator.admin'] as const };
    await (await GatewayClient.connect(options)).close(); // warm-up (and the device gets paired)
    const connects: number[] = [];
    for (let i = 0; i < CONNECTS; i++) {
      const t0 = performance.now();
      const c = await GatewayClient.connect(options);
      connects.push(performance.now() - t0);
      await c.close();
    }
    const api = new OpenClawGateway(await GatewayClient.connect(options));
    await api.configGet();
    const gets: number[] = [];
    for (let i = 0; i < GETS; i++) {
      const t0 = performance.now();
      await api.configGet();
      gets.push(performance.now() - t0);
    }
    await api.client.close();
    const ms = (v: number) => Math.round(v * 10) / 10;
    return {
      name: `gateway client: real openclaw ${gw.version} on loopback (${CONNECTS} connects, ${GETS} config.get)`,
      metrics: [
        { label: 'spawn → hello-ok (this start)', value: ms(gw.startedToHelloMs), unit: 'ms' },
        { label: 'connect + handshake, median', value: ms(percentile(connects, 50)), unit: 'ms' },
        { label: 'connect + handshake, p95', value: ms(percentile(connects, 95)), unit: 'ms' },
        { label: 'config.get, median', value: ms(percentile(gets, 50)), unit: 'ms' },
        { label: 'config.get, p95', value: ms(percentile(gets, 95)), unit: 'ms' },
      ],
    };
  } finally {
    await gw.stop();
  }
}
