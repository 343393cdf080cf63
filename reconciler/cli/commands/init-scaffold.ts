/**
 * The files `clawops init` writes: one commented example of each kind, each with a
 * `yaml-language-server` modeline so editors complete and check fields against the vendored
 * schemas. `{{RECIPIENT}}` is replaced with the repo's age recipient.
 */

const modeline = (depth: number, schema: string) => `# yaml-language-server: $schema=${'../'.repeat(depth)}.clawops/schemas/${schema}`;

export const SCAFFOLD: ReadonlyArray<readonly [path: string, content: string]> = [
  [
    'clawops.yaml',
    `${modeline(0, 'clawops.schema.json')}
# Settings of this fleet repo. Every other YAML file here holds resources (any layout works).
apiVersion: clawops.dev/v1
kind: Repository
spec:
  # Secrets under secrets/ are age-encrypted to every recipient listed here.
  # Add a teammate or CI with their age1… key, then run \`clawops secrets rotate\`.
  secrets:
    recipients:
      - {{RECIPIENT}}
  # Built-in guardrails (see the clawops policies/ folder): baseline or strict.
  policies: [baseline]
  # Who may approve risky changes; policies refer to these names in approvals.teams.
  approvers:
    security: { users: [alice] }
    platform: { users: [bob] }
  # Where the signed audit trail is written.
  audit:
    branch: clawops/audit
  defaults:
    drift: { mode: propose }
  # Folders the loader skips (globs relative to this file).
  ignore: ["docs/**"]
`,
  ],
  [
    '.gitignore',
    `# The age identity that decrypts secrets/: keep it out of git (store it in your password manager or CI secrets).
.clawops/age-identity.txt
# Local to each machine: the key of the secret hashes, the audit branch's cache, events not
# yet published, and the last audit head this machine verified.
.clawops/state/
.clawops/cache/
.clawops/audit-pending.jsonl*
.clawops/audit-verified-head
node_modules/
`,
  ],
  [
    'gateways/local.yaml',
    `${modeline(1, 'gateway.schema.json')}
# An OpenClaw gateway clawops manages. Labels are what Agents select on.
apiVersion: clawops.dev/v1
kind: Gateway
metadata:
  name: local
  labels: { env: dev, region: local }
spec:
  url: ws://127.0.0.1:18789
  auth:
    # The gateway's shared token, stored encrypted: clawops secrets set gateway-token
    token: { secretRef: gateway-token }
  # Delete agents clawops created once they are removed from git.
  prune: false
  drift: { mode: propose }
`,
  ],
  [
    'agents/assistant.yaml',
    `${modeline(1, 'agent.schema.json')}
# An agent: spec.config is the gateway's agents.entries.<id> object, exactly as OpenClaw stores it.
apiVersion: clawops.dev/v1
kind: Agent
metadata:
  name: assistant
  labels: { team: platform, tier: dev }
spec:
  gateways: { matchLabels: { env: dev } }
  config:
    name: Assistant
    model: { primary: anthropic/claude-sonnet-4-6, fallbacks: [openai/gpt-5.4] }
    skills: [docs-search]
    tools: { profile: coding, deny: [browser] }
    sandbox: { mode: all, workspaceAccess: rw }
  # Routes from channels to this agent (entries of the gateway's top-level bindings).
  bindings:
    - match: { channel: slack, accountId: "*" }
  # Scheduled jobs, upserted by declarationKey clawops:assistant:<name>.
  cron:
    - name: daily-summary
      enabled: false
      schedule: { kind: cron, expr: "0 8 * * 1-5", tz: UTC }
      payload: { kind: agentTurn, message: Summarise yesterday's open issues. }
      delivery: { mode: none }
  # Workspace files managed by clawops; paths are relative to this file.
  files:
    SOUL.md: ./assistant/SOUL.md
`,
  ],
  ['agents/assistant/SOUL.md', '# Assistant\n\nYou help the platform team. Be brief and cite sources.\n'],
  [
    'approvals/exec.yaml',
    `${modeline(1, 'approvalrule.schema.json')}
# Human-in-the-loop for shell commands: what runs without asking, and when a person is asked.
apiVersion: clawops.dev/v1
kind: ApprovalRule
metadata:
  name: platform-exec
spec:
  agents: { matchLabels: { team: platform } }
  exec:
    security: allowlist
    ask: on-miss
    askFallback: deny
    allowlist:
      - { pattern: /usr/bin/git }
      - { pattern: /usr/bin/rg }
`,
  ],
  [
    'approvals/ledger.yaml',
    `${modeline(1, 'approvalledger.schema.json')}
# Approvals of changes that reached main without the reviews policy asks for. clawops holds such a
# change and opens a pull request adding an entry here; merging that pull request with the
# required reviews releases it. Entries stay as the record.
apiVersion: clawops.dev/v1
kind: ApprovalLedger
metadata:
  name: ledger
spec:
  entries: []
`,
  ],
  [
    'budgets/platform.yaml',
    `${modeline(1, 'budget.schema.json')}
# A monthly spend limit for the platform team's agents.
apiVersion: clawops.dev/v1
kind: Budget
metadata:
  name: platform-monthly
spec:
  scope: { agents: { matchLabels: { team: platform } } }
  period: month
  limitUsd: 200
  alertAt: [50, 80, 100]
  onBreach: { action: downgrade-model, model: anthropic/claude-haiku-4-5 }
`,
  ],
  [
    'templates/helpdesk.yaml',
    `${modeline(1, 'resource.schema.json')}
# A reusable agent with typed variables (\${name} in the body)...
apiVersion: clawops.dev/v1
kind: Template
metadata:
  name: helpdesk
spec:
  version: 1.0.0
  variables:
    team: { type: string, pattern: "^[a-z-]+$", description: Team the desk serves. }
    model: { type: string, default: anthropic/claude-sonnet-4-6 }
  agent:
    config:
      name: "\${team} helpdesk"
      model: "\${model}"
      tools: { profile: messaging }
---
# ...and a deployment of it: one agent per instance, at a pinned template version.
apiVersion: clawops.dev/v1
kind: TemplateDeployment
metadata:
  name: helpdesks
  labels: { team: platform }
spec:
  gateway: local
  template: { name: helpdesk, version: 1.0.0 }
  instances:
    - name: desk-platform
      values: { team: platform }
`,
  ],
  [
    'hosts/workstation.yaml',
    `${modeline(1, 'runtimehost.schema.json')}
# A developer machine running local agent runtimes; clawops enforces managed settings there.
apiVersion: clawops.dev/v1
kind: RuntimeHost
metadata:
  name: workstation
  labels: { team: platform }
spec:
  hostname: workstation.local
  runtimes:
    claudeCode:
      managedSettings:
        permissions: { deny: ["Bash(curl:*)"], disableBypassPermissionsMode: disable }
  sessions: { sync: attach }
`,
  ],
  [
    'policies/guardrails.yaml',
    `${modeline(1, 'resource.schema.json')}
# Your own rules, on top of the built-in packs named in clawops.yaml...
apiVersion: clawops.dev/v1
kind: Policy
metadata:
  name: guardrails
spec:
  rules:
    - id: no-full-tools
      match: { kinds: [Agent], paths: ["spec.config.tools.profile"] }
      risk: high
      effect: require-approval
      approvals: { count: 1, teams: [security] }
      message: The full tool profile needs a security review.
---
# ...and a time-limited, owned waiver of one rule.
apiVersion: clawops.dev/v1
kind: PolicyException
metadata:
  name: assistant-tools-trial
spec:
  rule: guardrails/no-full-tools
  scope: { matchLabels: { team: platform } }
  owner: bob
  reason: Trial of the coding profile for the platform assistant.
  ticket: OPS-1
  expiresAt: "2030-01-01T00:00:00Z"
`,
  ],
  [
    'policies/tests/guardrails.test.yaml',
    `${modeline(2, 'resource.schema.json')}
# Table tests for policies/guardrails.yaml: run them with \`clawops policy test policies\`.
apiVersion: clawops.dev/v1
kind: PolicyTest
metadata:
  name: guardrails
spec:
  policies: [guardrails]
  cases:
    - name: a tool profile change needs a security review
      resource: { kind: Agent, metadata: { name: a }, spec: { config: { tools: { profile: full } } } }
      change: { path: spec.config.tools.profile, before: coding, after: full }
      expect: { effect: require-approval, risk: high, rules: [guardrails/no-full-tools] }
    - name: other tool settings are not this rule's business
      resource: { kind: Agent, metadata: { name: a }, spec: { config: { tools: { deny: [exec] } } } }
      change: { path: spec.config.tools.deny, before: [], after: [exec] }
      expect: { effect: allow, rules: [] }
`,
  ],
  [
    '.github/workflows/clawops.yml',
    `# Pull requests: validate and post the plan (sticky comment, check run with annotations).
# Pushes to main: apply, with pull-request reviews as the approval of risky changes.
# Full versions with schedules and GitHub App credentials: clawops' examples/fleet/.github/workflows/.
name: clawops
on:
  pull_request:
  pull_request_review:
    types: [submitted, dismissed]
  push:
    branches: [main]
permissions:
  contents: write
  pull-requests: write
  issues: write
  checks: write
jobs:
  clawops:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: { fetch-depth: 0 }
      - uses: clawops/clawops/actions@v1
        with:
          command: \${{ github.event_name == 'push' && 'apply' || 'plan' }}
        env:
          GITHUB_TOKEN: \${{ github.token }}
          CLAWOPS_AGE_IDENTITY: \${{ secrets.CLAWOPS_AGE_IDENTITY }}
          CLAWOPS_SIGNING_KEY: \${{ secrets.CLAWOPS_SIGNING_KEY }}
`,
  ],
];
