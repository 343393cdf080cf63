/**
 * What the fleet benchmarks on the gateway simulator share: a fleet repo of N Gateways × 20
 * Agents, the simulator in a child process (this file with `--sim COUNT SEED_JSON`), and fresh
 * worker children that print one JSON line. Three processes, so the simulator's memory and CPU
 * never count as the measured process's, and every sample is a cold run as one `clawops`
 * command would make it.
 *
 * The repo: N Gateways (`fleet: sim` label, each with its own age-encrypted token) and 20 Agents
 * selecting every gateway by that label, so each gateway's desired state is the same 20 agents.
 */
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { exportDeviceKey, generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { startSimulatedGateways } from '../fleet/sim/server.ts';
import type { JsonRecord } from '../fleet/sim/json.ts';
import { DEVICE_KEY_SECRET } from '../reconciler/live/gateway-access.ts';
import { encryptSecret } from '../reconciler/secrets/age-store.ts';

export const AGENTS_PER_GATEWAY = 20;
export const API = 'apiVersion: clawops.dev/v1';
export const pad = (n: number, w: number): string => String(n).padStart(w, '0');
export const agentId = (k: number): string => `agent-${pad(k, 2)}`;
const MODELS = ['anthropic/claude-sonnet-4-6', 'openai/gpt-5.4', 'anthropic/claude-haiku-4-5'] as const;
const PROFILES = ['messaging', 'coding', 'minimal'] as const;

/** `agents.entries.<id>` exactly as the Agent's YAML declares it (the simulator's strict slice of the schema). */
export function agentEntry(k: number): JsonRecord {
  return {
    name: `Sim Agent ${k}`,
    model: { primary: MODELS[k % MODELS.length]!, fallbacks: [MODELS[(k + 1) % MODELS.length]!] },
    thinkingDefault: k % 2 ? 'low' : 'high',
    skills: ['kb-search', `skill-${k % 7}`],
    tools: { profile: PROFILES[k % PROFILES.length]!, deny: ['exec', 'browser'] },
  };
}

/** A gateway config holding these agents' entries. */
export const configWith = (entries: JsonRecord): JsonRecord => ({ agents: { ownership: 'explicit', entries } });

/** Every gateway exactly as the repo's 20 Agents declare it. */
export function desiredConfig(): JsonRecord {
  const entries: JsonRecord = {};
  for (let k = 0; k < AGENTS_PER_GATEWAY; k++) entries[agentId(k)] = agentEntry(k);
  return configWith(entries);
}

function agentYaml(k: number): string {
  const e = agentEntry(k) as { name: string; model: { primary: string; fallbacks: string[] }; thinkingDefault: string; skills: string[]; tools: { profile: string; deny: string[] } };
  return `${API}
kind: Agent
metadata:
  name: ${agentId(k)}
  labels: { team: team-${k % 4} }
spec:
  gateways: { matchLabels: { fleet: sim } }
  config:
    name: ${e.name}
    model:
      primary: ${e.model.primary}
      fallbacks: [${e.model.fallbacks.join(', ')}]
    thinkingDefault: ${e.thinkingDefault}
    skills: [${e.skills.join(', ')}]
    tools:
      profile: ${e.tools.profile}
      deny: [${e.tools.deny.join(', ')}]
`;
}

export interface SimInfo {
  readonly port: number;
  readonly gateways: ReadonlyArray<{ readonly url: string; readonly token: string }>;
}

/** The simulator child: starts `count` gateways holding `seed`, prints its URLs and tokens as one JSON line, waits to be killed. */
async function simChild(count: number, seed: JsonRecord): Promise<void> {
  const sim = await startSimulatedGateways(count, { initialConfig: () => structuredClone(seed) });
  const info: SimInfo = { port: sim.port, gateways: sim.gateways.map((g) => ({ url: g.url, token: g.token })) };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  // Kept alive by the listening server until the parent kills it; a parent that died without doing so closes our stdin.
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

/** Node's flags for the children, minus an `--eval`/`--print` script: a child that re-ran it would start the benchmark again, recursively. */
export function childExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') i++;
    else if (!/^(--eval|--print)=/.test(a)) out.push(a);
  }
  return out;
}

/** `count` simulated gateways in a child process, each starting from `seed`. Stop with stopSimProcess. */
export function startSimProcess(count: number, seed: JsonRecord): Promise<{ child: ChildProcess; info: SimInfo }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...childExecArgv(), fileURLToPath(import.meta.url), '--sim', String(count), JSON.stringify(seed)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => fail(new Error(`the simulator process exited (${code}) before printing its gateways`));
    child.once('exit', onExit);
    child.once('error', fail);
    lines.once('line', (line) => {
      child.off('exit', onExit);
      lines.close();
      try {
        const info = JSON.parse(line) as SimInfo;
        if (info.gateways.length !== count) throw new Error(`the simulator started ${info.gateways.length} gateways, expected ${count}`);
        done({ child, info });
      } catch (e) {
        child.kill();
        fail(e);
      }
    });
  });
}

export function stopSimProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    process.kill(child.pid!, 'SIGTERM');
  });
}

export interface FleetRepoDir {
  /** Remove this when done: it holds the repo and the state dir. */
  readonly base: string;
  readonly dir: string;
  /** For Ports.env: the age identity and a state dir outside the repo. */
  readonly env: Record<string, string>;
  /** Gateway names, in the simulator's order. */
  readonly gateways: readonly string[];
}

export async function writeFleetRepo(info: SimInfo): Promise<FleetRepoDir> {
  const base = await mkdtemp(join(tmpdir(), 'clawops-bench-fleet-sim-'));
  const dir = join(base, 'repo');
  const stateDir = join(base, 'state');
  await Promise.all(['gateways', 'agents', 'secrets'].map((d) => mkdir(join(dir, d), { recursive: true })));
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  await writeFile(join(dir, 'clawops.yaml'), `${API}\nkind: Repository\nspec:\n  secrets:\n    recipients: [${recipient}]\n`);
  await writeFile(join(dir, 'secrets', `${DEVICE_KEY_SECRET}.age`), await encryptSecret(exportDeviceKey(generateDeviceIdentity()), [recipient]));
  const width = String(info.gateways.length - 1).length;
  const names = info.gateways.map((_, i) => `sim-${pad(i, width)}`);
  for (let i = 0; i < info.gateways.length; i += 100) {
    await Promise.all(
      info.gateways.slice(i, i + 100).map(async (g, j) => {
        const name = names[i + j]!;
        await writeFile(
          join(dir, 'gateways', `${name}.yaml`),
          `${API}\nkind: Gateway\nmetadata:\n  name: ${name}\n  labels: { fleet: sim, region: r${(i + j) % 4} }\nspec:\n  url: ${g.url}\n  auth: { token: { secretRef: ${name}-token } }\n`,
        );
        await writeFile(join(dir, 'secrets', `${name}-token.age`), await encryptSecret(g.token, [recipient]));
      }),
    );
  }
  for (let k = 0; k < AGENTS_PER_GATEWAY; k++) await writeFile(join(dir, 'agents', `${agentId(k)}.yaml`), agentYaml(k));
  return { base, dir, env: { CLAWOPS_AGE_IDENTITY: identity, CLAWOPS_STATE_DIR: stateDir }, gateways: names };
}

/** A child's `maxRSS` (KiB) in MB. */
export const mb = (kib: number): number => Math.round((kib * 1024) / 1e6);

/**
 * Runs `script ...args` in a fresh Node process with `env` added and resolves with the last line
 * it printed, parsed as JSON: the worker's report of its one measured run.
 */
export function runJsonChild<T>(script: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<T> {
  return new Promise((done, fail) => {
    let out = '';
    const child = spawn(process.execPath, [...childExecArgv(), script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', fail);
    child.once('exit', (code) => {
      if (code !== 0) return fail(new Error(`${script.split('/').pop()} ${args[0] ?? ''} exited ${code}`));
      try {
        done(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch (e) {
        fail(e);
      }
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [mode, count, seed] = process.argv.slice(2);
  if (mode === '--sim' && Number.isInteger(Number(count)) && Number(count) > 0 && seed) await simChild(Number(count), JSON.parse(seed) as JsonRecord);
  else throw new Error('usage: node bench/sim-fleet.ts --sim COUNT SEED_JSON (started by the fleet benchmarks)');
}
