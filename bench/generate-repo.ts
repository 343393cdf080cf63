/**
 * Writes a synthetic fleet repo for benchmarks: one clawops.yaml plus `files - 1` multi-document
 * YAML files holding `resources` resources in total. Mostly Agents with a realistic config
 * (~35 lines each: model with fallbacks, tools, sandbox, skills, identity, bindings, a cron job
 * and a managed workspace file), plus Gateways, Budgets and ApprovalRules whose selectors match.
 * Every resource is valid and every name unique, so `loadRepo()` must report zero errors.
 *
 * Also a command: `node bench/generate-repo.ts DIR [RESOURCES] [FILES]`.
 */
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encryptSecret } from '../reconciler/secrets/age-store.ts';

export interface GenerateOptions {
  /** Resources (YAML documents) outside clawops.yaml. */
  readonly resources: number;
  /** YAML files including clawops.yaml; must be at least 2 and at most resources + 1. */
  readonly files: number;
  /** Resource files per folder (default 50), so the walk has depth like a real repo. */
  readonly filesPerFolder?: number;
}

export interface GeneratedRepo {
  readonly root: string;
  /** YAML files written, clawops.yaml included. */
  readonly files: number;
  readonly resources: number;
  readonly byKind: Readonly<Record<'Gateway' | 'Agent' | 'Budget' | 'ApprovalRule', number>>;
  /** Total size of the YAML files. */
  readonly bytes: number;
}

const API = 'apiVersion: clawops.dev/v1';
const TEAMS = 20;
const SHARDS = 10;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

const MODELS = [
  ['anthropic/claude-sonnet-4-6', 'openai/gpt-5.4', 'anthropic/claude-haiku-4-5'],
  ['openai/gpt-5.4', 'anthropic/claude-sonnet-4-6'],
  ['anthropic/claude-haiku-4-5', 'openai/gpt-5.4-mini'],
] as const;
const PROFILES = ['messaging', 'coding', 'minimal'] as const;
const SANDBOX = ['all', 'non-main'] as const;
const ACCESS = ['ro', 'rw', 'none'] as const;
const CHANNELS = ['slack', 'telegram', 'discord'] as const;

function gateway(i: number): string {
  return `${API}
kind: Gateway
metadata:
  name: gw-${pad(i, 3)}
  labels: { env: prod, region: r${i % 4}, shard: s${i % SHARDS} }
spec:
  url: ws://127.0.0.${1 + (i % 250)}:${18789 + i}
  auth:
    token: { secretRef: gateway-token }
  prune: false
  drift: { mode: propose }
`;
}

function agent(i: number, gateways: number): string {
  const models = MODELS[i % MODELS.length]!;
  const team = i % TEAMS;
  // Half the agents name one gateway, half select a shard (two or more gateways).
  const target = i % 2 === 0 ? `gateway: gw-${pad(i % gateways, 3)}` : `gateways: { matchLabels: { shard: s${i % Math.min(SHARDS, gateways)} } }`;
  const channel = CHANNELS[i % CHANNELS.length]!;
  return `${API}
kind: Agent
metadata:
  name: agent-${pad(i, 6)}
  labels: { team: team-${pad(team, 2)}, tier: ${i % 5 === 0 ? 'critical' : 'standard'}, app: app-${i % 97} }
spec:
  ${target}
  config:
    name: Agent ${i}
    description: Synthetic agent ${i} of team ${team}, generated for the validate benchmark.
    model:
      primary: ${models[0]}
      fallbacks: [${models.slice(1).join(', ')}]
    thinkingDefault: ${i % 3 === 0 ? 'high' : 'low'}
    identity: { name: "Agent ${i}", emoji: "🤖", theme: helpful and brief }
    skills: [kb-search, ticket-lookup, skill-${i % 13}]
    tools:
      profile: ${PROFILES[i % PROFILES.length]}
      alsoAllow: [memory_search, memory_get]
      deny: [exec, process, browser]
      fs: { workspaceOnly: true }
    sandbox: { mode: ${SANDBOX[i % SANDBOX.length]}, scope: agent, workspaceAccess: ${ACCESS[i % ACCESS.length]} }
  bindings:
    - match: { channel: ${channel}, accountId: bot-${i} }
    - match:
        channel: slack
        teamId: T0BENCH${team}
        peer: { kind: channel, id: C${pad(i, 8)} }
  cron:
    - name: daily-report
      schedule: { kind: cron, expr: "${i % 60} 7 * * 1-5", tz: UTC }
      sessionTarget: isolated
      wakeMode: now
      payload:
        kind: agentTurn
        message: Summarise yesterday's open tickets for team ${team}.
        timeoutSeconds: 300
      delivery: { mode: announce, channel: slack, to: "channel:C${pad(team, 8)}" }
  files:
    SOUL.md: ./SOUL.md
`;
}

function budget(i: number): string {
  return `${API}
kind: Budget
metadata:
  name: budget-${pad(i, 5)}
spec:
  scope: { agents: { matchLabels: { team: team-${pad(i % TEAMS, 2)} } } }
  period: ${['day', 'week', 'month'][i % 3]}
  limitUsd: ${50 + (i % 20) * 25}
  alertAt: [50, 80, 100]
  onBreach: ${i % 2 === 0 ? '{ action: alert }' : '{ action: downgrade-model, model: anthropic/claude-haiku-4-5 }'}
`;
}

function approvalRule(i: number): string {
  return `${API}
kind: ApprovalRule
metadata:
  name: exec-${pad(i, 5)}
spec:
  agents: { matchLabels: { team: team-${pad(i % TEAMS, 2)} } }
  exec:
    security: allowlist
    ask: on-miss
    askFallback: deny
    allowlist:
      - { pattern: /usr/bin/git }
      - { pattern: /usr/bin/rg }
      - { pattern: /usr/local/bin/kubectl, description: read-only RBAC }
`;
}

/** How many of each kind: about 1 gateway per 500 resources, 1% budgets, 1% approval rules, the rest agents. */
export function plan(resources: number): GeneratedRepo['byKind'] {
  const gateways = Math.max(2, Math.round(resources / 500));
  const budgets = Math.max(1, Math.round(resources / 100));
  const approvals = Math.max(1, Math.round(resources / 100));
  const agents = resources - gateways - budgets - approvals;
  if (agents < TEAMS) throw new Error(`need at least ${TEAMS + gateways + budgets + approvals} resources so every selector matches`);
  return { Gateway: gateways, Agent: agents, Budget: budgets, ApprovalRule: approvals };
}

export async function generateRepo(dir: string, options: GenerateOptions): Promise<GeneratedRepo> {
  const { resources, files } = options;
  const perFolder = options.filesPerFolder ?? 50;
  if (!Number.isInteger(resources) || !Number.isInteger(files) || files < 2 || files - 1 > resources) {
    throw new Error(`cannot spread ${resources} resources over ${files} files (one of them clawops.yaml)`);
  }
  const root = resolve(dir);
  const counts = plan(resources);

  // Documents in a stable order: gateways, then agents with budgets and rules interleaved.
  const docs: string[] = [];
  for (let i = 0; i < counts.Gateway; i++) docs.push(gateway(i));
  const extras = counts.Budget + counts.ApprovalRule;
  const every = Math.max(1, Math.floor(counts.Agent / extras));
  let b = 0;
  let r = 0;
  for (let i = 0; i < counts.Agent; i++) {
    docs.push(agent(i, counts.Gateway));
    if (i % every === every - 1) {
      if (b < counts.Budget) docs.push(budget(b++));
      else if (r < counts.ApprovalRule) docs.push(approvalRule(r++));
    }
  }
  while (b < counts.Budget) docs.push(budget(b++));
  while (r < counts.ApprovalRule) docs.push(approvalRule(r++));

  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  await mkdir(join(root, 'secrets'), { recursive: true });
  await writeFile(join(root, 'secrets', 'gateway-token.age'), await encryptSecret('bench-gateway-token', [recipient]));
  const config = `${API}
kind: Repository
spec:
  secrets:
    recipients: [${recipient}]
  policies: [baseline]
  approvers:
    security: { users: [alice] }
  audit: { branch: clawops/audit }
  defaults: { drift: { mode: propose }, parallelism: 16 }
`;
  await writeFile(join(root, 'clawops.yaml'), config);
  let bytes = Buffer.byteLength(config);

  // Split the documents into files - 1 contiguous chunks whose sizes differ by at most one.
  const resourceFiles = files - 1;
  const base = Math.floor(docs.length / resourceFiles);
  const extra = docs.length % resourceFiles;
  const writes: Array<Promise<void>> = [];
  const folders = new Set<string>();
  let at = 0;
  for (let f = 0; f < resourceFiles; f++) {
    const take = base + (f < extra ? 1 : 0);
    const folder = join(root, 'fleet', `part-${pad(Math.floor(f / perFolder), 3)}`);
    if (!folders.has(folder)) {
      folders.add(folder);
      await mkdir(folder, { recursive: true });
      // The workspace file every agent in this folder names (`files: { SOUL.md: ./SOUL.md }`).
      writes.push(writeFile(join(folder, 'SOUL.md'), '# Synthetic agent\n\nBe brief and helpful.\n'));
    }
    const text = docs.slice(at, at + take).map((d, k) => (k === 0 ? d : `---\n${d}`)).join('');
    at += take;
    bytes += Buffer.byteLength(text);
    writes.push(writeFile(join(folder, `resources-${pad(f, 5)}.yaml`), text));
  }
  await Promise.all(writes);
  return { root, files, resources: docs.length, byKind: counts, bytes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, n = '10000', m = '1000'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node bench/generate-repo.ts DIR [RESOURCES] [FILES]');
    process.exit(2);
  }
  const repo = await generateRepo(dir, { resources: Number(n), files: Number(m) });
  console.log(`wrote ${repo.resources} resources (${JSON.stringify(repo.byKind)}) in ${repo.files} files, ${(repo.bytes / 1024 / 1024).toFixed(1)} MiB, to ${repo.root}`);
}
