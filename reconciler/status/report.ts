/**
 * The `--json` shape of `clawops status`. Unknown values are `null` rather than absent, so a
 * consumer can tell "the gateway did not say" from "this clawops does not report it".
 */
import Type, { type Static, type TSchema } from 'typebox';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const GatewayProblem = Type.Object(
  {
    kind: Type.String({
      description:
        'Stable: unreachable, auth, pairing, scope, timeout, credentials, pending-restart, unhealthy, invalid-config, gateway-error, …',
    }),
    message: Type.String({ description: 'One line: what is wrong and how to fix it.' }),
  },
  { additionalProperties: false },
);
export type GatewayProblem = Static<typeof GatewayProblem>;

export const GatewayStatus = Type.Object(
  {
    name: Type.String(),
    url: Type.String(),
    reachable: Type.Boolean({ description: 'clawops opened a session (hello-ok).' }),
    attention: Type.Boolean({ description: 'Unreachable, unhealthy, a failed read, an invalid config file or a pending restart.' }),
    version: Nullable(Type.String({ description: 'OpenClaw version (`hello-ok.server.version`).' })),
    protocol: Nullable(Type.Integer()),
    agents: Nullable(Type.Integer({ minimum: 0, description: 'Rows of `agents.list`.' })),
    config: Nullable(
      Type.Object(
        {
          hash: Type.String({ description: '`config.get` hash: the authored revision, the `baseHash` of writes.' }),
          revisionHash: Type.String({ description: 'Revision of the resolved source config.' }),
          appliedHash: Type.String({ description: 'Revision the running gateway has accepted.' }),
          valid: Type.Boolean({ description: 'The config file on disk passes the gateway’s validation.' }),
        },
        { additionalProperties: false },
      ),
    ),
    pendingRestart: Nullable(Type.Boolean({ description: 'A saved config change waits for a restart (applied ≠ revision).' })),
    health: Nullable(
      Type.Object(
        {
          ok: Type.Boolean({ description: 'The `health` RPC says ok.' }),
          degraded: Type.Array(Type.String(), { description: 'Degraded subsystems (e.g. `event loop (cpu)`); informational, not attention.' }),
        },
        { additionalProperties: false },
      ),
    ),
    problems: Type.Array(GatewayProblem, { description: 'Everything that needs attention, one line each.' }),
  },
  { additionalProperties: false },
);
export type GatewayStatus = Static<typeof GatewayStatus>;

export const StatusReport = Type.Object(
  {
    formatVersion: Type.Literal(1, { description: 'Bumped whenever a consumer must adapt.' }),
    summary: Type.Object(
      {
        gateways: Type.Integer({ minimum: 0 }),
        reachable: Type.Integer({ minimum: 0 }),
        attention: Type.Integer({ minimum: 0, description: 'Gateways that need attention; exit code 2 when not 0.' }),
      },
      { additionalProperties: false },
    ),
    gateways: Type.Array(GatewayStatus, { description: 'Sorted by name.' }),
  },
  { additionalProperties: false, description: 'Output of `clawops status --json`.' },
);
export type StatusReport = Static<typeof StatusReport>;

export function statusReport(gateways: readonly GatewayStatus[]): StatusReport {
  return {
    formatVersion: 1,
    summary: {
      gateways: gateways.length,
      reachable: gateways.filter((g) => g.reachable).length,
      attention: gateways.filter((g) => g.attention).length,
    },
    gateways: [...gateways],
  };
}
