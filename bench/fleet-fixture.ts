/**
 * A throw-away fleet repo of N Agents on one live gateway, for the plan/apply benchmark: one
 * Gateway, an age identity, the gateway token and clawops' device key as age secrets, and Agents
 * with varied config (model with fallbacks, tool profile or allowlist, skills, sandbox, identity,
 * one or two routes, a cron job on every 5th, a SOUL.md on every 4th), plus one ApprovalRule with
 * an exec allowlist covering the even-numbered half. Everything stays within what the real gateway
 * accepts: the shapes mirror the example fleet that test/apply.test.ts applies.
 *
 * Not test/helpers/live-repo.ts: that one registers vitest hooks, which a bench process lacks.
 */
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportDeviceKey, generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { DEVICE_KEY_SECRET } from '../reconciler/live/gateway-access.ts';
import { encryptSecret } from '../reconciler/secrets/age-store.ts';

export interface BenchFleet {
  /** The repo root (clawops.yaml). */
  readonly dir: string;
  /** For Ports.env: the age identity and a state dir outside the repo. */
  readonly env: Record<string, string>;
  readonly gateway: string;
  /** Agent ids on the gateway, in order. */
  readonly agentIds: readonly string[];
  /** The description the YAML of agent `id` holds now. */
  description(id: string): string;
  /** Rewrites `spec.config.description` in each agent's YAML. */
  setDescriptions(ids: readonly string[], text: (id: string) => string): void;
  remove(): void;
}

const API = 'apiVersion: clawops.dev/v1';
const pad = (n: number) => String(n).padStart(2, '0');

const MODELS = [
  { primary: 'anthropic/claude-sonnet-4-6', fallbacks: ['openai/gpt-5.4'] },
  { primary: 'openai/gpt-5.4', fallbacks: ['anthropic/claude-sonnet-4-6', 'anthropic/claude-haiku-4-5'] },
  { primary: 'anthropic/claude-haiku-4-5', fallbacks: ['openai/gpt-5.4'] },
  { primary: 'anthropic/claude-opus-4-6', fallbacks: ['anthropic/claude-sonnet-4-6', 'openai/gpt-5.4'] },
] as const;
const SANDBOXES = ['{ mode: all, scope: agent, workspaceAccess: ro }', '{ mode: non-main, scope: agent, workspaceAccess: rw }', '{ mode: all, scope: agent, workspaceAccess: none, backend: docker }', '{ mode: "off" }'] as const;
const THINKING = ['low', 'medium', 'high'] as const;

function tools(i: number): string {
  switch (i % 4) {
    case 0:
      return ['    tools:', '      profile: messaging', '      deny: [exec, process, browser]', '      fs: { workspaceOnly: true }'].join('\n');
    case 1:
      return ['    tools:', '      profile: coding', '      alsoAllow: [memory_search, memory_get]', '      deny: [browser]', '      elevated: { enabled: false }'].join('\n');
    case 2:
      return ['    tools:', '      allow: [read, write, memory_search, web_fetch]', '      deny: [exec]'].join('\n');
    default:
      return ['    tools:', '      profile: minimal', '      fs: { workspaceOnly: true }'].join('\n');
  }
}

function bindings(i: number): string {
  const first = i % 2 === 0 ? `    - match: { channel: slack, teamId: T0BENCH, accountId: bot-${pad(i)} }` : `    - match: { channel: telegram, accountId: bot-${pad(i)} }`;
  // Every third agent also takes one Slack channel.
  const second = i % 3 === 0 ? ['    - match:', '        channel: slack', '        teamId: T0BENCH', `        peer: { kind: channel, id: C0BENCH${pad(i)} }`] : [];
  return ['  bindings:', first, ...second].join('\n');
}

function cron(i: number): string {
  if (i % 5 !== 0) return '';
  const schedule = i % 10 === 0 ? '{ kind: every, everyMs: 3600000 }' : `{ kind: cron, expr: "${i} 7 * * 1-5", tz: UTC }`;
  return [
    '  cron:',
    '    - name: daily-report',
    `      schedule: ${schedule}`,
    '      sessionTarget: isolated',
    '      wakeMode: next-heartbeat',
    '      payload:',
    '        kind: agentTurn',
    `        message: Summarise the open tickets of queue ${i}; report only if something is overdue.`,
    '        timeoutSeconds: 120',
    '      delivery: { mode: none }',
  ].join('\n');
}

function agentYaml(i: number, gateway: string, description: string): string {
  const id = `agent-${pad(i)}`;
  const m = MODELS[i % MODELS.length]!;
  return [
    API,
    'kind: Agent',
    'metadata:',
    `  name: ${id}`,
    `  labels: { team: team-${i % 5}, exec: ${i % 2 === 0 ? 'allowlist' : 'default'} }`,
    'spec:',
    `  gateway: ${gateway}`,
    '  config:',
    `    name: Bench Agent ${i}`,
    `    description: ${description}`,
    '    model:',
    `      primary: ${m.primary}`,
    `      fallbacks: [${m.fallbacks.join(', ')}]`,
    `    thinkingDefault: ${THINKING[i % THINKING.length]}`,
    `    identity: { name: "Bench ${i}", emoji: "🤖", theme: "${i % 2 ? 'terse and factual' : 'calm and patient'}" }`,
    `    skills: [kb-search, ticket-lookup${i % 3 === 0 ? ', runbook-search' : ''}]`,
    tools(i),
    `    sandbox: ${SANDBOXES[i % SANDBOXES.length]}`,
    bindings(i),
    cron(i),
    i % 4 === 0 ? `  files:\n    SOUL.md: ./${id}/SOUL.md` : '',
    '',
  ]
    .filter((l, k, all) => l !== '' || k === all.length - 1)
    .join('\n');
}

const APPROVAL_RULE = `${API}
kind: ApprovalRule
metadata:
  name: bench-exec
spec:
  agents: { matchLabels: { exec: allowlist } }
  exec:
    security: allowlist
    ask: on-miss
    askFallback: deny
    autoAllowSkills: false
    allowlist:
      - { pattern: /usr/bin/git, description: Read history. }
      - { pattern: /usr/bin/rg }
      - { pattern: /usr/bin/jq }
      - { pattern: /usr/local/bin/kubectl, argPattern: "^get ", description: Read-only. }
`;

const DESCRIPTION_LINE = /^ {4}description: .*$/m;

export async function makeBenchFleet(gw: { name: string; url: string; token: string }, agents: number): Promise<BenchFleet> {
  const base = mkdtempSync(join(tmpdir(), 'clawops-bench-fleet-'));
  const dir = join(base, 'repo');
  const stateDir = join(base, 'state');
  mkdirSync(join(dir, 'gateways'), { recursive: true });
  mkdirSync(join(dir, 'secrets'));
  mkdirSync(join(dir, 'agents'));
  mkdirSync(join(dir, 'approvals'));
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  writeFileSync(join(dir, 'clawops.yaml'), `${API}\nkind: Repository\nspec:\n  secrets:\n    recipients: [${recipient}]\n`);
  writeFileSync(
    join(dir, 'gateways', `${gw.name}.yaml`),
    `${API}\nkind: Gateway\nmetadata:\n  name: ${gw.name}\nspec:\n  url: ${gw.url}\n  auth: { token: { secretRef: ${gw.name}-token } }\n`,
  );
  writeFileSync(join(dir, 'secrets', `${gw.name}-token.age`), await encryptSecret(gw.token, [recipient]));
  writeFileSync(join(dir, 'secrets', `${DEVICE_KEY_SECRET}.age`), await encryptSecret(exportDeviceKey(generateDeviceIdentity()), [recipient]));
  writeFileSync(join(dir, 'approvals', 'bench-exec.yaml'), APPROVAL_RULE);

  const ids: string[] = [];
  const fileOf = (id: string) => join(dir, 'agents', `${id}.yaml`);
  for (let i = 0; i < agents; i++) {
    const id = `agent-${pad(i)}`;
    ids.push(id);
    writeFileSync(fileOf(id), agentYaml(i, gw.name, `Bench agent ${i} answers queue ${i % 7} and escalates to a human.`));
    if (i % 4 === 0) {
      mkdirSync(join(dir, 'agents', id));
      writeFileSync(join(dir, 'agents', id, 'SOUL.md'), `# Bench agent ${i}\n\nBe brief. Cite the ticket. Never guess.\n`);
    }
  }

  const description = (id: string): string => {
    const m = DESCRIPTION_LINE.exec(readFileSync(fileOf(id), 'utf8'));
    if (!m) throw new Error(`${fileOf(id)} has no description line`);
    return m[0].slice('    description: '.length);
  };
  return {
    dir,
    env: { CLAWOPS_AGE_IDENTITY: identity, CLAWOPS_STATE_DIR: stateDir },
    gateway: gw.name,
    agentIds: ids,
    description,
    setDescriptions(which, text) {
      for (const id of which) {
        const t = text(id);
        // Plain scalars only: the YAML stays valid without quoting rules here.
        if (!/^[A-Za-z0-9][A-Za-z0-9 ,.()-]*$/.test(t)) throw new Error(`description "${t}" would need YAML quoting`);
        writeFileSync(fileOf(id), readFileSync(fileOf(id), 'utf8').replace(DESCRIPTION_LINE, `    description: ${t}`));
      }
    },
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}
