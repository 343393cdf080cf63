/**
 * Shapes that mirror OpenClaw 2026.9.6 (protocol 4) exactly as the gateway stores them, so that a
 * desired agent can be diffed against `config.get`'s `sourceConfig` without translation. The top
 * level of an agent entry and of its `tools` is closed (a typo gets "did you mean"); deeper
 * objects are left open here because the live gateway's own `config.schema` checks them at plan
 * time.
 */
import Type, { type Static } from 'typebox';
import { oneOfByKind, SecretRef } from './common.ts';

const open = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description });

export const ModelRef = Type.Union(
  [
    Type.String({ minLength: 1, description: 'Provider/model, e.g. `openai/gpt-5.4`; a plain string means no fallback.' }),
    Type.Object(
      {
        primary: Type.String({ minLength: 1 }),
        fallbacks: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'The model this agent uses: `provider/model`, or `{ primary, fallbacks }`.' },
);

export const AgentTools = Type.Object(
  {
    profile: Type.Optional(Type.Enum(['minimal', 'coding', 'messaging', 'full'], { description: 'Base tool set.' })),
    allow: Type.Optional(Type.Array(Type.String(), { description: 'Tools allowed (replaces the profile list).' })),
    alsoAllow: Type.Optional(Type.Array(Type.String(), { description: 'Tools added to the profile.' })),
    deny: Type.Optional(Type.Array(Type.String(), { description: 'Tools always denied.' })),
    byProvider: Type.Optional(open('Per-provider tool overrides.')),
    toolsBySender: Type.Optional(open('Per-sender tool overrides.')),
    codeMode: Type.Optional(Type.Unknown()),
    swarm: Type.Optional(Type.Unknown()),
    elevated: Type.Optional(
      Type.Object({ enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: true, description: 'Elevated (host) exec. Risky: policies treat enabling it as critical.' }),
    ),
    exec: Type.Optional(open('Exec tool settings.')),
    github: Type.Optional(open('GitHub tool settings.')),
    fs: Type.Optional(open('File-system tool settings, e.g. `{ workspaceOnly: true }`.')),
    loopDetection: Type.Optional(Type.Unknown()),
    message: Type.Optional(Type.Unknown()),
    sandbox: Type.Optional(open('Tool sandbox settings.')),
  },
  { additionalProperties: false, description: 'Which tools the agent may use (`agents.entries.<id>.tools`).' },
);

export const AgentSandbox = Type.Object(
  {
    mode: Type.Optional(Type.Enum(['off', 'non-main', 'all'], { description: 'Which sessions run sandboxed.' })),
    scope: Type.Optional(Type.String()),
    workspaceAccess: Type.Optional(Type.Enum(['none', 'ro', 'rw'])),
    backend: Type.Optional(Type.String({ description: 'e.g. `docker`.' })),
  },
  { additionalProperties: true, description: 'Sandbox posture for the agent.' },
);

export const AgentIdentity = Type.Object(
  {
    name: Type.Optional(Type.String()),
    theme: Type.Optional(Type.String()),
    emoji: Type.Optional(Type.String()),
    avatar: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** `agents.entries.<id>`: every child key the live 2026.9.6 schema lists. */
export const AgentConfig = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Display name.' })),
    description: Type.Optional(Type.String()),
    workspace: Type.Optional(Type.String({ description: 'Workspace directory on the gateway host.' })),
    cwd: Type.Optional(Type.String()),
    agentDir: Type.Optional(Type.String()),
    model: Type.Optional(ModelRef),
    utilityModel: Type.Optional(Type.String()),
    decisionModel: Type.Optional(Type.String()),
    models: Type.Optional(open('Per-model settings.')),
    modelPolicy: Type.Optional(open('Model policy.')),
    thinkingDefault: Type.Optional(Type.String()),
    verboseDefault: Type.Optional(Type.Unknown()),
    toolProgressDetail: Type.Optional(Type.Unknown()),
    reasoningDefault: Type.Optional(Type.String()),
    fastModeDefault: Type.Optional(Type.Boolean()),
    contextInjection: Type.Optional(Type.Unknown()),
    bootstrapMaxChars: Type.Optional(Type.Integer({ minimum: 0 })),
    bootstrapTotalMaxChars: Type.Optional(Type.Integer({ minimum: 0 })),
    experimental: Type.Optional(Type.Unknown()),
    skills: Type.Optional(Type.Array(Type.String(), { description: 'Skill allowlist; replaces `agents.defaults.skills`; `[]` means none.' })),
    subagents: Type.Optional(open('Which agents this one may spawn, e.g. `{ allowAgents: ["*"] }`.')),
    embeddedAgent: Type.Optional(Type.Unknown()),
    params: Type.Optional(open('Model parameters.')),
    runtime: Type.Optional(open('Agent runtime, e.g. `{ type: acp }`.')),
    memory: Type.Optional(Type.Unknown()),
    humanDelay: Type.Optional(Type.Unknown()),
    typingMode: Type.Optional(Type.Unknown()),
    tts: Type.Optional(Type.Unknown()),
    skillsLimits: Type.Optional(Type.Unknown()),
    contextLimits: Type.Optional(Type.Unknown()),
    heartbeat: Type.Optional(open('Heartbeat settings, e.g. `{ every: "30m" }`.')),
    identity: Type.Optional(AgentIdentity),
    groupChat: Type.Optional(open('Group chat behaviour, e.g. `{ mentionPatterns: [...] }`.')),
    sandbox: Type.Optional(AgentSandbox),
    tools: Type.Optional(AgentTools),
    default: Type.Optional(Type.Boolean({ description: 'Retired by OpenClaw; kept only so old configs load.' })),
  },
  {
    additionalProperties: false,
    description:
      "The gateway's `agents.entries.<id>` object, exactly as OpenClaw stores it. Values may be `{ secretRef: NAME }` where a secret belongs.",
  },
);
export type AgentConfig = Static<typeof AgentConfig>;

export const BindingMatch = Type.Object(
  {
    channel: Type.String({ minLength: 1, description: 'Channel provider, e.g. `slack`, `telegram`.' }),
    accountId: Type.Optional(Type.String({ description: 'Account id, or `*` for any.' })),
    peer: Type.Optional(
      Type.Object({ kind: Type.String(), id: Type.String() }, { additionalProperties: false, description: 'A specific conversation peer.' }),
    ),
    guildId: Type.Optional(Type.String()),
    teamId: Type.Optional(Type.String()),
    roles: Type.Optional(Type.Array(Type.String(), { description: 'Only senders with one of these roles (providers that attach roles).' })),
  },
  { additionalProperties: false, description: 'Which inbound messages this route takes (peer → guild → team → account).' },
);

/** One of the agent's entries in the gateway's top-level `bindings` (the `agentId` is implied). */
export const Binding = Type.Object(
  {
    type: Type.Optional(Type.Enum(['route', 'acp'])),
    comment: Type.Optional(Type.String({ description: 'A note kept with the route on the gateway.' })),
    match: BindingMatch,
    session: Type.Optional(Type.Unknown()),
    acp: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false, description: 'A route from a channel to this agent.' },
);
export type Binding = Static<typeof Binding>;

const kindLiteral = <K extends string>(k: K) => Type.Literal(k);

export const CronSchedule = oneOfByKind(
  [
    Type.Object({ kind: kindLiteral('at'), at: Type.String({ description: 'ISO time of the single run.' }) }, { additionalProperties: false }),
    Type.Object(
      { kind: kindLiteral('every'), everyMs: Type.Integer({ minimum: 1 }), anchorMs: Type.Optional(Type.Integer()) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: kindLiteral('cron'),
        expr: Type.String({ minLength: 1, description: 'Five-field cron expression, e.g. `0 3 * * *`.' }),
        tz: Type.Optional(Type.String({ description: 'IANA time zone, e.g. `UTC`.' })),
        staggerMs: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { additionalProperties: false },
    ),
    Type.Object({ kind: kindLiteral('on-exit'), command: Type.String(), cwd: Type.Optional(Type.String()) }, { additionalProperties: false }),
    Type.Object({ kind: kindLiteral('stream'), command: Type.Array(Type.String()) }, { additionalProperties: true }),
  ],
  'When the job runs: `at`, `every`, `cron`, `on-exit` or `stream`.',
);

export const CronPayload = oneOfByKind(
  [
    Type.Object({ kind: kindLiteral('systemEvent'), text: Type.String(), toolsAllow: Type.Optional(Type.Array(Type.String())) }, { additionalProperties: false }),
    Type.Object(
      {
        kind: kindLiteral('agentTurn'),
        message: Type.String({ minLength: 1 }),
        model: Type.Optional(Type.String()),
        fallbacks: Type.Optional(Type.Array(Type.String())),
        thinking: Type.Optional(Type.String()),
        timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
        toolsAllow: Type.Optional(Type.Array(Type.String())),
      },
      { additionalProperties: true },
    ),
    Type.Object({ kind: kindLiteral('command'), argv: Type.Array(Type.String(), { minItems: 1 }) }, { additionalProperties: true }),
    Type.Object({ kind: kindLiteral('script'), script: Type.String() }, { additionalProperties: true }),
  ],
  'What the job does: `systemEvent`, `agentTurn`, `command` or `script`.',
);

/** A scheduled job, upserted on the gateway by declarationKey `clawops:<agent>:<name>`. */
export const CronJob = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'Unique per agent; forms the declarationKey.' }),
    description: Type.Optional(Type.String()),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    schedule: CronSchedule,
    sessionTarget: Type.Optional(Type.String({ pattern: '^(main|isolated|current|session:.+)$', description: '`main`, `isolated`, `current` or `session:<key>`.' })),
    wakeMode: Type.Optional(Type.Enum(['next-heartbeat', 'now'])),
    payload: CronPayload,
    delivery: Type.Optional(open('Where results go, e.g. `{ mode: none }`.')),
  },
  { additionalProperties: false, description: 'A cron job owned by this agent.' },
);
export type CronJob = Static<typeof CronJob>;

export const ExecSecurity = Type.Enum(['deny', 'allowlist', 'full'], { description: '`deny` all exec, only the `allowlist`, or `full` (no restriction).' });
export const ExecAsk = Type.Enum(['off', 'on-miss', 'always'], { description: 'When a human is asked: never, when the allowlist misses, or always.' });

export const ExecApprovalPolicy = Type.Object(
  {
    security: Type.Optional(ExecSecurity),
    ask: Type.Optional(ExecAsk),
    askFallback: Type.Optional(Type.Enum(['deny', 'allowlist', 'full'], { description: 'The security level that applies when nobody answers.' })),
    autoAllowSkills: Type.Optional(Type.Boolean()),
    allowlist: Type.Optional(
      Type.Array(
        Type.Object(
          {
            pattern: Type.String({ minLength: 1, description: 'Executable path or glob, e.g. `/usr/bin/git`.' }),
            argPattern: Type.Optional(Type.String({ description: 'Regular expression the arguments must match; without it any arguments are allowed.' })),
            description: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
        { description: 'Commands that run without asking (keyed by pattern).' },
      ),
    ),
  },
  { additionalProperties: false, description: "The gateway's exec-approval policy (`exec.approvals.set`) for the selected agents." },
);

export const ApprovalForwarding = Type.Object(
  {
    enabled: Type.Boolean(),
    mode: Type.Optional(Type.String()),
    targets: Type.Optional(Type.Array(Type.Unknown())),
    sessionFilter: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false, description: 'Where approval prompts are forwarded (`approvals.exec` in gateway config).' },
);

/** A value that may be given inline or as a reference to an age secret. */
export const SecretOrString = Type.Union([Type.String(), SecretRef]);
