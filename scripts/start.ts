/**
 * `npm start`: the main job on the bundled example fleet, against two real local OpenClaw
 * gateways. Every step runs the clawops CLI in this process and shows the command as a user would
 * type it, then its own output: reconcile the example onto empty gateways, drift made with the
 * real `openclaw` CLI (reverted, proposed, alerted), a held and a denied change, a kill and its
 * recovery, and a verified, signed audit trail. Everything it starts is stopped and everything
 * it writes is removed, also on Ctrl-C.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureOpenClaw } from '../fleet/harness/install.ts';
import type { RealGateway } from '../fleet/harness/real-gateway.ts';
import { openclaw } from '../fleet/harness/openclaw-cli.ts';
import { parseIdentities, readSecret } from '../reconciler/secrets/age-store.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { makeDemoRepo } from './start/demo-repo.ts';
import { DemoGateways } from './start/gateways.ts';
import { bold, Clawops, DemoError, heading, note, say, seconds, showCommand, stepTimes, waiting } from './start/terminal.ts';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'fleet');
const DEMO_IDENTITY = join(ROOT, 'examples', 'demo-age-identity.txt');

const gateways = new DemoGateways();
const scratch = mkdtempSync(join(tmpdir(), 'clawops-demo-'));
const startCwd = process.cwd();
let cleaning: Promise<void> | undefined;
/** After the openclaw install, which is not part of the demo's time. */
let started: number | undefined;

/** Stops the gateways and removes the scratch dir; the `finally` and the signal handlers share one run of it. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    process.chdir(startCwd);
    await gateways.stopAll();
    rmSync(scratch, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (cleaning) return;
    process.stderr.write(`\n${signal}: stopping the demo gateways and removing ${scratch}…\n`);
    void cleanUp().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)));
  });
}

async function main(): Promise<void> {
  // The one slow step of a first start; not part of the demo's own time.
  const t0 = performance.now();
  let installing = false;
  const install = await waiting(
    'checking the pinned openclaw',
    ensureOpenClaw({
      log: (line) => {
        installing = true;
        say(line);
      },
    }),
  );
  if (installing) say(`openclaw ${install.version} installed in ${seconds(performance.now() - t0)} (first start only; not counted below)`);
  started = performance.now();

  // The example's gateway token; the gateways are started with it, so the repo's secret is right as it is.
  const token = await readSecret(EXAMPLE, 'gateway-token', parseIdentities(readFileSync(DEMO_IDENTITY, 'utf8'), DEMO_IDENTITY), new Redactor());

  heading(1, 'Two real OpenClaw gateways');
  note(`The example fleet has prod-eu and prod-us; each gets its own HOME and a free loopback port.`);
  const live = await gateways.start(['prod-eu', 'prod-us'], token, say);
  const eu = live.get('prod-eu')!;
  const us = live.get('prod-us')!;

  heading(2, 'The example fleet as a git repo');
  const repo = await makeDemoRepo(scratch, EXAMPLE, { 'prod-eu': eu.url, 'prod-us': us.url });
  say(`Copied examples/fleet to ${repo.dir} and committed it (the audit branch clawops/audit lives in its .git).`);
  say(`Changed in the copy: the two Gateway urls (${eu.url}, ${us.url}), and kb-curator got \`drift: { mode: revert }\``);
  say('(no resource of the example reverts drift; step 4 shows all three modes).');
  note('The demo age identity decrypts the gateway token and clawops\' device key; a fresh Ed25519 key signs the audit commits.');
  showCommand(['export', `CLAWOPS_AGE_IDENTITY=${DEMO_IDENTITY}`, `CLAWOPS_SIGNING_KEY_FILE=${repo.signingKeyFile}`]);
  showCommand(['cd', repo.dir]);
  process.chdir(repo.dir);
  const env: Record<string, string> = {
    ...pick(process.env, ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TERM', 'TZ', 'NO_COLOR', 'FORCE_COLOR']),
    CLAWOPS_AGE_IDENTITY: DEMO_IDENTITY,
    CLAWOPS_SIGNING_KEY_FILE: repo.signingKeyFile,
    CLAWOPS_ACTOR: process.env.USER ?? 'demo-operator',
  };
  const cli = new Clawops(env, repo.dir);
  cli.secret(token, 'gateway-token');

  heading(3, 'Reconcile onto the empty gateways');
  note('clawops.yaml enables the baseline policy pack: a new agent brings a model and tools, which need a security review.');
  note('Without GitHub there is no pull request to approve, so those changes are held (exit 2).');
  await cli.run(['reconcile', '--once'], { expect: 2 });
  note('Bootstrapping a fleet is what break-glass is for: apply anyway, with a reason the audit trail records.');
  await cli.run(['apply', '--auto-approve', '--break-glass', '--reason', 'first install of the demo fleet'], { expect: 0, fold: true });
  note('Now the gateways match git: the next reconcile has nothing to do (exit 0).');
  await cli.run(['reconcile', '--once'], { expect: 0 });

  heading(4, 'Drift: someone edits live config with the openclaw CLI');
  const drift = [
    { gw: eu, agent: 'kb-curator', why: 'kb-curator says drift: revert' },
    { gw: eu, agent: 'deploy-bot', why: 'prod-eu says drift: propose' },
    { gw: us, agent: 'billing', why: 'prod-us says drift: alert' },
  ];
  // The two edits on prod-eu write the same file one after the other; prod-us edits at the same time.
  const edit = (d: (typeof drift)[number]) => ['config', 'set', `agents.entries.${d.agent}.description`, 'Edited live during an incident'];
  for (const d of drift) {
    note(`on ${d.gw.name}'s host (${d.why}):`);
    showCommand(['openclaw', ...edit(d)]);
  }
  const onHost = async (gw: RealGateway) => {
    for (const d of drift.filter((x) => x.gw === gw)) await openclaw(gw.home, edit(d));
  };
  await waiting('openclaw config set', Promise.all([onHost(eu), onHost(us)]));
  note('revert puts kb-curator back; propose would open a drift PR (no GitHub here, so it is reported); alert only reports.');
  await cli.run(['reconcile', '--once'], { expect: 2 });
  note('Who changed what, from the gateways\' own config journal:');
  await cli.run(['drift'], { expect: 2 });

  heading(5, 'A held change and a denied one');
  repo.edit('agents/support/triage.yaml', 'primary: anthropic/claude-sonnet-4-6\n      fallbacks: [openai/gpt-5.4]', 'primary: openai/gpt-5.4\n      fallbacks: [anthropic/claude-sonnet-4-6]');
  repo.edit('agents/platform/code-reviewer.yaml', '    name: Code Reviewer\n', '    name: Code Reviewer 2\n');
  repo.edit('agents/platform/code-reviewer.yaml', '      profile: coding\n', '      profile: full\n');
  say('Edited: triage\'s primary model → openai/gpt-5.4 (baseline/model-change: one security review);');
  say('        code-reviewer\'s tool profile → full (denied by fleet-guardrails/no-full-tools) and its name.');
  showCommand(['git', 'commit', '-qam', 'triage on GPT, code-reviewer with every tool']);
  repo.git(['commit', '-qam', 'triage on GPT, code-reviewer with every tool']);
  note('The model change waits for approval; the denied change blocks all of code-reviewer, its name too (exit 1).');
  await cli.run(['reconcile', '--once'], { expect: 1 });
  note('Both stay in the plan, with the rules behind them, until approved or changed in git:');
  await cli.run(['plan', '--gateway', 'prod-us'], { expect: 0 });
  showCommand(['git', 'revert', '--no-edit', 'HEAD']);
  repo.git(['revert', '--no-edit', 'HEAD']);

  heading(6, 'Kill switch');
  note('One guarded write per gateway takes platform-oncall\'s tools, routes and cron runs away; its exact config is kept.');
  await cli.run(['kill', 'platform-oncall', '--reason', 'demo'], { expect: 0 });
  note('recover restores it byte for byte from the state branch and checks live against what was kept.');
  await cli.run(['recover', 'platform-oncall', '--confirm'], { expect: 0 });

  heading(7, 'The signed audit trail');
  await cli.run(['audit', 'verify', '--allowed-signers', '../allowed_signers'], { expect: 0 });
  await cli.run(['audit', 'search', '--limit', '8'], { expect: 0 });

  const end = performance.now();
  say(`\n${bold(`Done in ${seconds(end - started)}`)} (steps ${stepTimes(end)}); stopping the gateways and removing ${scratch}.`);
}

function pick(from: NodeJS.ProcessEnv, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

try {
  await main();
} catch (e) {
  if (!cleaning) {
    process.exitCode = 1;
    process.stderr.write(`\nnpm start failed: ${e instanceof DemoError ? e.message : ((e as Error).stack ?? String(e))}\n`);
  }
} finally {
  await cleanUp();
  if (started !== undefined && !process.exitCode) say(`Stopped; nothing left running. Total ${seconds(performance.now() - started)}.`);
}
