/**
 * Every resource kind of the fleet repo (DESIGN §2). The table `KINDS` is the one place that maps a
 * `kind:` string to its schema; schema generation, the loader and `init` all read it.
 */
import Type, { type Static, type TSchema } from 'typebox';
import {
  DriftPolicy,
  EFFECTS,
  IgnoreRules,
  Labels,
  Name,
  describe,
  RISKS,
  resource,
  SecretRef,
  Selector,
} from './common.ts';
import {
  AgentConfig,
  ApprovalForwarding,
  Binding,
  CronJob,
  ExecApprovalPolicy,
} from './openclaw.ts';

const TargetFields = {
  gateway: Type.Optional(Type.String({ description: 'Name of one Gateway resource. Use either `gateway` or `gateways`.' })),
  gateways: Type.Optional(describe(Selector, 'Selects Gateways by their labels. Use either `gateway` or `gateways`.')),
};

export const Gateway = resource(
  'Gateway',
  Type.Object(
    {
      url: Type.String({
        pattern: '^wss?://[^\\s/]+(/\\S*)?$',
        description: 'WebSocket URL of the gateway, e.g. `ws://127.0.0.1:18789` or `wss://gw.example.com`.',
      }),
      auth: Type.Object(
        {
          token: SecretRef,
          deviceToken: Type.Optional(describe(SecretRef, 'Device token issued when clawops was paired (`clawops gateway pair`).')),
        },
        { additionalProperties: false, description: "How clawops authenticates: the gateway's shared token, as a secret." },
      ),
      tls: Type.Optional(
        Type.Object(
          {
            fingerprint256: Type.String({
              pattern: '^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$',
              description: 'SHA-256 fingerprint of the certificate to pin, as `AB:CD:…` (32 pairs).',
            }),
          },
          { additionalProperties: false },
        ),
      ),
      prune: Type.Optional(Type.Boolean({ default: false, description: 'Delete agents clawops created once they leave git.' })),
      drift: Type.Optional(DriftPolicy),
      ignore: Type.Optional(IgnoreRules),
    },
    { additionalProperties: false },
  ),
  'An OpenClaw gateway: where it is, how to reach it, and how drift on it is handled.',
);

const ManagedSettings = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description });

export const RuntimeHost = resource(
  'RuntimeHost',
  Type.Object(
    {
      hostname: Type.String({ minLength: 1, description: 'The host name the machine reports (`hostname`).' }),
      publicKey: Type.Optional(
        Type.String({
          pattern: '^ssh-ed25519 [A-Za-z0-9+/]+=*( .*)?$',
          description: "The host's `ssh-ed25519` public key; it signs this host's audit commits.",
        }),
      ),
      runtimes: Type.Object(
        {
          claudeCode: Type.Optional(
            Type.Object({ managedSettings: ManagedSettings('Written to Claude Code’s managed-settings.json (users cannot override it).') }, { additionalProperties: false }),
          ),
          codex: Type.Optional(
            Type.Object({ requirements: ManagedSettings('Written to /etc/codex/requirements.toml.') }, { additionalProperties: false }),
          ),
          hermes: Type.Optional(
            Type.Object({ managed: ManagedSettings('Written to /etc/hermes/config.yaml.') }, { additionalProperties: false }),
          ),
          openclaw: Type.Optional(
            Type.Object(
              {
                gateway: Type.Optional(Type.String({ description: 'Name of the Gateway resource for this host’s local gateway.' })),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false, description: 'Settings enforced per runtime at the level users cannot override.' },
      ),
      sessions: Type.Optional(
        Type.Object(
          {
            sync: Type.Enum(['attach', 'off'], { description: '`attach`: record new transcript lines as masked session events.' }),
          },
          { additionalProperties: false },
        ),
      ),
      drift: Type.Optional(DriftPolicy),
    },
    { additionalProperties: false },
  ),
  'A machine where developers run Claude Code, Codex, Hermes or OpenClaw.',
);

export const AgentSpec = Type.Object(
  {
    ...TargetFields,
    id: Type.Optional(
      Type.String({ pattern: '^[a-z0-9]([a-z0-9_-]{0,62})$', description: 'Agent id on the gateway (`agents.entries.<id>`); defaults to metadata.name.' }),
    ),
    config: AgentConfig,
    bindings: Type.Optional(Type.Array(Binding, { description: "This agent's routes (its entries of the gateway's top-level `bindings`)." })),
    cron: Type.Optional(Type.Array(CronJob, { description: 'Scheduled jobs, upserted by declarationKey `clawops:<agent>:<name>`.' })),
    files: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]+$' }), Type.String({ minLength: 1 }), {
        description: 'Managed workspace files: file name on the gateway → path of its content, relative to this YAML file.',
        additionalProperties: false,
      }),
    ),
    ignore: Type.Optional(IgnoreRules),
    drift: Type.Optional(DriftPolicy),
    killed: Type.Optional(
      Type.Object(
        {
          reason: Type.String({ minLength: 1, description: 'Why the agent was taken out of service.' }),
          by: Type.String({ minLength: 1, description: 'Who killed it.' }),
          at: Type.String({ description: 'When, ISO 8601.' }),
        },
        {
          additionalProperties: false,
          description: 'Set by `clawops kill` (through a pull request): the agent is out of service, and plan, apply and drift leave it alone until `clawops recover AGENT --confirm`.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type AgentSpec = Static<typeof AgentSpec>;

export const Agent = resource('Agent', AgentSpec, 'An agent on one or more gateways: its config, routes, cron jobs and workspace files.');

export const ApprovalRule = resource(
  'ApprovalRule',
  Type.Object(
    {
      agents: describe(Selector, 'Which Agent resources this rule covers (by their labels).'),
      exec: ExecApprovalPolicy,
      forwarding: Type.Optional(ApprovalForwarding),
    },
    { additionalProperties: false },
  ),
  'Human-in-the-loop settings: which commands need a person, and where the prompts go.',
);

export const Budget = resource(
  'Budget',
  Type.Object(
    {
      scope: Type.Object(
        {
          agents: Type.Optional(describe(Selector, 'Agents (by label) whose spend counts.')),
          gateways: Type.Optional(describe(Selector, 'Gateways (by label) whose spend counts.')),
        },
        { additionalProperties: false, description: 'Whose spend this budget counts; at least one selector.', minProperties: 1 },
      ),
      period: Type.Enum(['day', 'week', 'month'], { description: 'The window the limit applies to.' }),
      limitUsd: Type.Number({ exclusiveMinimum: 0, description: 'Spend limit for one period, in US dollars.' }),
      alertAt: Type.Optional(
        Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { description: 'Percentages of the limit that raise an alert.', default: [50, 80, 100] }),
      ),
      onBreach: Type.Object(
        {
          action: Type.Enum(['alert', 'downgrade-model', 'disable'], { description: 'What happens when the limit is reached.' }),
          model: Type.Optional(Type.String({ minLength: 1, description: 'The cheaper model to switch to (required for `downgrade-model`).' })),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
  'A spend limit per period for a set of agents or gateways, and what to do on breach.',
);

export const TemplateVariable = Type.Object(
  {
    type: Type.Enum(['string', 'number', 'boolean', 'json']),
    description: Type.Optional(Type.String()),
    default: Type.Optional(Type.Unknown()),
    enum: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1 })),
    pattern: Type.Optional(Type.String({ description: 'Regular expression a string value must match.' })),
    minimum: Type.Optional(Type.Number()),
    maximum: Type.Optional(Type.Number()),
    required: Type.Optional(Type.Boolean({ description: 'Must be given by every instance (default: required unless a default exists).' })),
  },
  { additionalProperties: false },
);
export type TemplateVariable = Static<typeof TemplateVariable>;

export const Template = resource(
  'Template',
  Type.Object(
    {
      version: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$', description: 'Semantic version; deployments pin it.' }),
      description: Type.Optional(Type.String()),
      variables: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), TemplateVariable, {
        description: 'Typed variables; use them in the agent body as `${name}`.',
        additionalProperties: false,
      }),
      agent: Type.Object(
        {
          config: Type.Record(Type.String(), Type.Unknown()),
          bindings: Type.Optional(Type.Array(Type.Unknown())),
          cron: Type.Optional(Type.Array(Type.Unknown())),
          files: Type.Optional(Type.Record(Type.String(), Type.String())),
        },
        { additionalProperties: false, description: 'An Agent spec body with `${variable}` placeholders.' },
      ),
    },
    { additionalProperties: false },
  ),
  'A reusable, versioned agent definition with typed variables.',
);

export const TemplateDeployment = resource(
  'TemplateDeployment',
  Type.Object(
    {
      ...TargetFields,
      template: Type.Object(
        { name: Name, version: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$' }) },
        { additionalProperties: false, description: 'The Template and the exact version to deploy.' },
      ),
      instances: Type.Array(
        Type.Object(
          {
            name: Name,
            labels: Type.Optional(Labels),
            values: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Values for the template variables.' })),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, description: 'One agent per instance, named `<instance>`.' },
      ),
    },
    { additionalProperties: false },
  ),
  'Deploys a Template at a pinned version as one agent per instance.',
);

const RuleMatch = Type.Object(
  {
    kinds: Type.Optional(Type.Array(Type.String(), { description: 'Resource kinds the rule looks at, e.g. `[Agent]`.' })),
    labels: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Labels the resource must carry.' })),
    actions: Type.Optional(Type.Array(Type.Enum(['create', 'update', 'delete']), { minItems: 1, description: 'Only changes that create, update or delete (default: all three).' })),
    paths: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'Globs over changed paths, dot-separated: `*` is one segment, `**` any number (zero too), `{a,b}` either; e.g. `spec.config.tools.**`, `spec.cron.*`.',
      }),
    ),
    schema: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Schema the resulting resource must match for the rule to apply.' })),
  },
  { additionalProperties: false },
);

const StateMatch = Type.Object(
  {
    kinds: RuleMatch.properties.kinds,
    labels: RuleMatch.properties.labels,
    schema: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Only resources that match this JSON Schema are checked.' })),
  },
  { additionalProperties: false },
);

export const Policy = resource(
  'Policy',
  Type.Object(
    {
      description: Type.Optional(Type.String()),
      rules: Type.Optional(
        Type.Array(
          Type.Object(
            {
              id: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]*$' }),
              description: Type.Optional(Type.String()),
              match: RuleMatch,
              risk: Type.Enum([...RISKS]),
              effect: Type.Enum([...EFFECTS], { description: 'The strongest effect among matching rules wins.' }),
              approvals: Type.Optional(
                Type.Object(
                  {
                    count: Type.Integer({ minimum: 1 }),
                    teams: Type.Optional(Type.Array(Type.String())),
                    users: Type.Optional(Type.Array(Type.String())),
                  },
                  { additionalProperties: false, description: 'Reviews needed when the effect is `require-approval`.' },
                ),
              ),
              message: Type.String({ minLength: 1 }),
            },
            { additionalProperties: false },
          ),
          { description: 'Change rules: matched against every planned change.' },
        ),
      ),
      stateRules: Type.Optional(
        Type.Array(
          Type.Object(
            {
              id: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]*$' }),
              description: Type.Optional(Type.String()),
              match: StateMatch,
              require: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Schema every matching resource must satisfy.' })),
              selectedBy: Type.Optional(
                Type.Array(
                  Type.Object(
                    {
                      kind: Type.String({ description: 'Kind of the resource that must select this one, e.g. `Budget`.' }),
                      selector: Type.String({ pattern: '^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$', description: 'Dotted path of its label selector, e.g. `spec.scope.agents`.' }),
                    },
                    { additionalProperties: false },
                  ),
                  { minItems: 1, description: 'For each entry, some resource of that kind must select this resource with the selector at that path ("every prod agent has a budget").' },
                ),
              ),
              message: Type.String({ minLength: 1 }),
            },
            { additionalProperties: false, description: 'Needs `require`, `selectedBy` or both.' },
          ),
          { description: 'Conformance rules over the whole desired state; violations fail validation.' },
        ),
      ),
    },
    { additionalProperties: false },
  ),
  'Guardrails: rules that rate, gate or forbid changes, and conformance rules over the desired state.',
);

export const PolicyException = resource(
  'PolicyException',
  Type.Object(
    {
      rule: Type.String({ pattern: '^[a-z0-9-]+/[a-z0-9][a-z0-9.-]*$', description: '`<policy>/<rule id>` this exception waives.' }),
      scope: describe(Selector, 'Resources (by label) the exception covers.'),
      owner: Type.String({ minLength: 1, description: 'Who answers for this exception.' }),
      reason: Type.String({ minLength: 1 }),
      ticket: Type.Optional(Type.String()),
      expiresAt: Type.String({ format: 'date-time', description: 'RFC 3339 time after which the exception no longer applies.' }),
    },
    { additionalProperties: false },
  ),
  'A time-limited, owned waiver of one policy rule for some resources.',
);

const TestDocument = Type.Object(
  {
    apiVersion: Type.Optional(Type.String()),
    kind: Type.String({ minLength: 1 }),
    metadata: Type.Object({ name: Type.String({ minLength: 1 }), labels: Type.Optional(Type.Record(Type.String(), Type.String())) }, { additionalProperties: true }),
    spec: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false, description: 'A resource document; only the parts the rules look at are needed.' },
);

const TestChange = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'Changed path inside the resource, e.g. `spec.config.sandbox.mode` or `spec.cron[nightly]`.' }),
    action: Type.Optional(Type.Enum(['create', 'update', 'delete'], { default: 'update' })),
    before: Type.Optional(Type.Unknown()),
    after: Type.Optional(Type.Unknown()),
    secret: Type.Optional(Type.Boolean({ description: 'The value is a secret (matches `…secretRef` paths).' })),
  },
  { additionalProperties: false },
);

export const PolicyTest = resource(
  'PolicyTest',
  Type.Object(
    {
      policies: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Policies under test: Policy documents found in the tested folder first, then built-in packs.' }),
      now: Type.Optional(Type.String({ format: 'date-time', description: 'The clock the cases run at (exceptions expire against it).' })),
      exceptions: Type.Optional(Type.Array(PolicyException, { description: 'PolicyExceptions in effect for every case.' })),
      resources: Type.Optional(Type.Array(TestDocument, { description: 'Other resources every state case sees (Budgets, ApprovalRules…).' })),
      cases: Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            resource: Type.Optional(TestDocument),
            change: Type.Optional(TestChange),
            changes: Type.Optional(Type.Array(TestChange, { minItems: 1 })),
            state: Type.Optional(Type.Array(TestDocument, { description: 'A state case: these resources are checked against the state rules.' })),
            expect: Type.Object(
              {
                effect: Type.Optional(Type.Enum([...EFFECTS])),
                risk: Type.Optional(Type.Enum([...RISKS])),
                rules: Type.Optional(Type.Array(Type.String(), { description: 'Exactly the rules that match (`policy/id`).' })),
                approvals: Type.Optional(
                  Type.Array(
                    Type.Object(
                      { rule: Type.String(), count: Type.Integer({ minimum: 1 }), teams: Type.Optional(Type.Array(Type.String())), users: Type.Optional(Type.Array(Type.String())) },
                      { additionalProperties: false },
                    ),
                  ),
                ),
                violations: Type.Optional(Type.Array(Type.String(), { description: 'Exactly the state rules violated (`policy/id`); [] for none.' })),
              },
              { additionalProperties: false },
            ),
          },
          { additionalProperties: false, description: 'A change case (`resource`, optionally `change`/`changes`) or a state case (`state`).' },
        ),
        { minItems: 1 },
      ),
    },
    { additionalProperties: false },
  ),
  'Table tests of policies, run by `clawops policy test`: a change or a state in, the expected verdict out.',
);

export const ApprovalLedger = resource(
  'ApprovalLedger',
  Type.Object(
    {
      entries: Type.Array(
        Type.Object(
          {
            id: Type.String({ pattern: '^[0-9a-f]{16,64}$', description: 'Hash of the held change set (gateway, agent, each change and its new value); clawops recomputes it to find the entry.' }),
            gateway: Type.String({ minLength: 1 }),
            agent: Type.String({ minLength: 1 }),
            changes: Type.Array(Type.String(), { description: 'The held changes, one line each (`Agent/x spec.config.model.primary (update)`), for reviewers.' }),
            rules: Type.Array(Type.String(), { description: 'The policy rules that asked for approval (`policy/id`).' }),
            approvers: Type.Array(Type.String(), { description: 'Who must approve, e.g. `2 from security`.' }),
            commits: Type.Array(Type.String({ pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$' }), { description: 'The commits on the main branch that brought the changes without approval.' }),
            requestedAt: Type.String({ format: 'date-time' }),
          },
          { additionalProperties: false },
        ),
        { description: 'One entry per approval pull request clawops opened; merged with the required reviews, an entry releases its held change set.' },
      ),
    },
    { additionalProperties: false },
  ),
  'The record of approvals for changes that reached the main branch without them (`approvals/ledger.yaml`); clawops adds entries in approval pull requests.',
);

/** kind → schema. Order is the order `init` writes examples and `validate` reports kinds. */
export const KINDS = {
  Gateway,
  RuntimeHost,
  Agent,
  ApprovalRule,
  Budget,
  Template,
  TemplateDeployment,
  Policy,
  PolicyException,
  PolicyTest,
  ApprovalLedger,
} as const satisfies Record<string, TSchema>;

export type KindName = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as KindName[];
export type ResourceOf<K extends KindName> = Static<(typeof KINDS)[K]>;
export type AnyResource = { [K in KindName]: ResourceOf<K> }[KindName];

export const isKindName = (s: unknown): s is KindName => typeof s === 'string' && Object.hasOwn(KINDS, s);

export { Name };
