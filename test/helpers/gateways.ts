/**
 * The real gateways test/global-setup.ts starts once per run. `a` is for ordinary use; `b` belongs
 * to the contract suite, which restarts it and trips its limits, so other tests should not rely on it.
 */
import { inject } from 'vitest';
import type { GatewayInfo } from '../../fleet/harness/real-gateway.ts';
import type { SharedGatewayName } from '../global-setup.ts';

export function sharedGateway(name: SharedGatewayName): GatewayInfo {
  const gw = inject('gateways')[name];
  if (!gw) throw new Error(`shared gateway ${name} was not started (CLAWOPS_TEST_GATEWAYS=off); run this file with gateways`);
  return gw;
}
