/**
 * The gateway contract (fleet/contract/gateway-contract.ts) against the real OpenClaw gateway `b`,
 * which this file has to itself: it restarts the gateway and trips its rate limit.
 */
import { defineGatewayContract } from '../fleet/contract/gateway-contract.ts';
import { sharedGateway } from './helpers/gateways.ts';

defineGatewayContract(`real openclaw`, () => sharedGateway('b'));
