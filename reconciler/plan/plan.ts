/**
 * A plan: what would change on which gateway, how risky it is, and exactly what `apply` will
 * write. One TypeBox schema is the type, the JSON output's contract (`schemas/plan.schema.json`)
 * and the check a saved plan passes before `apply` trusts it.
 *
 * A plan never holds a secret value: desired secrets stay `{ secretRef }` until apply resolves
 * them, and a changed secret shows as a keyed hash.
 */
import Type, { type Static } from 'typebox';
import { RISKS } from '../model/common.ts';
import { VerdictSchema } from '../policy/verdict.ts';

export const CATEGORIES = ['identity', 'model', 'tools', 'skills', 'sandbox', 'channels', 'bindings', 'cron', 'approvals', 'files', 'budget', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];
export const ACTIONS = ['create', 'update', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];

const Json = Type.Unknown();

export const SourceLocation = Type.Object(
  {
    file: Type.String({ description: 'Repo-relative path of the YAML file.' }),
    line: Type.Integer({ minimum: 1 }),
    col: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false, description: 'The YAML that caused the change.' },
);
export type SourceLocation = Static<typeof SourceLocation>;

export const Change = Type.Object(
  {
    gateway: Type.String(),
    /** The agent on the gateway (`agents.entries.<id>`). */
    agentId: Type.String(),
    /** `Kind/name` of the resource that declares it (or declared it, for a deletion). */
    resource: Type.String(),
    action: Type.Enum([...ACTIONS]),
    category: Type.Enum([...CATEGORIES]),
    /** The highest risk among the policy rules that match (low when none does). */
    risk: Type.Enum([...RISKS]),
    verdict: VerdictSchema,
    /** Path inside the resource, e.g. `spec.config.tools.deny` or `spec.cron[nightly]`; `spec` for a whole agent. */
    path: Type.String(),
    before: Type.Optional(Json),
    after: Type.Optional(Json),
    /** The value is a secret: before/after are keyed hashes (`hmac:…`), never values. */
    secret: Type.Optional(Type.Boolean()),
    source: Type.Optional(SourceLocation),
  },
  { additionalProperties: false },
);
export type Change = Static<typeof Change>;

const JsonObject = Type.Record(Type.String(), Json);

export const CronUpsert = Type.Object(
  {
    declarationKey: Type.String(),
    /** `cron.add` params; `{ secretRef }` values are resolved at apply. */
    job: JsonObject,
  },
  { additionalProperties: false },
);

export const FileWrite = Type.Object(
  {
    agentId: Type.String(),
    name: Type.String(),
    /** Repo-relative path of the content; apply reads it and checks `sha256`. */
    contentFile: Type.String(),
    sha256: Type.String(),
    /** Live hash when planned (absent: the file did not exist). */
    expectedHash: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const GatewayOperations = Type.Object(
  {
    /** One merge patch for the whole gateway (the write limit is 30 per minute). */
    configPatch: Type.Optional(
      Type.Object(
        {
          patch: JsonObject,
          replacePaths: Type.Array(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    /** Agents removed through `agents.delete` (the gateway refuses a `null` patch). */
    deleteAgents: Type.Array(Type.String()),
    /** The whole exec-approvals document to write, guarded by its hash. */
    execApprovals: Type.Optional(JsonObject),
    cronUpserts: Type.Array(CronUpsert),
    cronRemovals: Type.Array(Type.Object({ id: Type.String(), declarationKey: Type.String() }, { additionalProperties: false })),
    files: Type.Array(FileWrite),
  },
  { additionalProperties: false },
);
export type GatewayOperations = Static<typeof GatewayOperations>;

export const LiveHashes = Type.Object(
  {
    config: Type.String({ description: '`config.get` hash: the `baseHash` of the write.' }),
    execApprovals: Type.String(),
    /** A digest of the cron jobs clawops manages (declarationKey `clawops:`), in a stable form. */
    cron: Type.String(),
    /** `agentId/NAME` → SHA-256 of managed workspace files ("" when missing). */
    files: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false, description: 'Live state the plan was made against; apply refuses a gateway where any moved.' },
);
export type LiveHashes = Static<typeof LiveHashes>;

export const PlanNote = Type.Object(
  {
    level: Type.Enum(['info', 'warning']),
    message: Type.String(),
    source: Type.Optional(SourceLocation),
  },
  { additionalProperties: false },
);
export type PlanNote = Static<typeof PlanNote>;

export const PlanError = Type.Object(
  {
    kind: Type.String({ description: 'unreachable, auth, invalid-config, …' }),
    message: Type.String(),
    source: Type.Optional(SourceLocation),
  },
  { additionalProperties: false },
);
export type PlanError = Static<typeof PlanError>;

export const GatewayPlan = Type.Object(
  {
    gateway: Type.String(),
    url: Type.String(),
    /** `server.version` of the gateway, when reached. */
    version: Type.Optional(Type.String()),
    status: Type.Enum(['ok', 'error']),
    errors: Type.Array(PlanError),
    notes: Type.Array(PlanNote),
    live: Type.Optional(LiveHashes),
    changes: Type.Array(Change),
    operations: GatewayOperations,
  },
  { additionalProperties: false },
);
export type GatewayPlan = Static<typeof GatewayPlan>;

export const PlanSummary = Type.Object(
  {
    gateways: Type.Integer({ minimum: 0 }),
    gatewaysWithChanges: Type.Integer({ minimum: 0 }),
    gatewaysWithErrors: Type.Integer({ minimum: 0 }),
    create: Type.Integer({ minimum: 0 }),
    update: Type.Integer({ minimum: 0 }),
    delete: Type.Integer({ minimum: 0 }),
    /** Changes policy holds until approved, and changes it denies. */
    needApproval: Type.Integer({ minimum: 0 }),
    denied: Type.Integer({ minimum: 0 }),
    byRisk: Type.Object(Object.fromEntries(RISKS.map((r) => [r, Type.Integer({ minimum: 0 })])) as Record<(typeof RISKS)[number], ReturnType<typeof Type.Integer>>, {
      additionalProperties: false,
    }),
  },
  { additionalProperties: false },
);
export type PlanSummary = Static<typeof PlanSummary>;

export const Plan = Type.Object(
  {
    formatVersion: Type.Literal(1),
    /** ISO time the live state was read. */
    createdAt: Type.String(),
    /** The fleet repo's git commit, when it is a git checkout. */
    commit: Type.Optional(Type.String()),
    gateways: Type.Array(GatewayPlan),
    summary: PlanSummary,
    /** Fleet-wide notes, e.g. policy exceptions that expire within 7 days. */
    notes: Type.Array(PlanNote),
  },
  { additionalProperties: false, description: 'clawops plan --format json; also the file `plan --out` saves and `apply FILE` reads.' },
);
export type Plan = Static<typeof Plan>;
