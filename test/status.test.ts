/**
 * `clawops status` against the shared real gateway `a`, a port nobody listens on, a port that
 * never answers, and a scripted fake for states `a` must not be put in (pending restart, failing
 * health). Expected values come from the gateway itself through a separate client, not from clawops.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../fleet/harness/free-port.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { OpenClawGateway } from '../fleet/openclaw/gateway-api.ts';
import { encryptSecret } from '../reconciler/secrets/age-store.ts';
import { gatewayStatus, pendingRestart, shortHash, summarizeHealth } from '../reconciler/status/probe.ts';
import { StatusReport } from '../reconciler/status/report.ts';
import { clawops } from './helpers/cli.ts';
import { startFakeGateway, type FakeGateway } from './helpers/fake-gateway.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { liveRepos, type LiveRepo } from './helpers/live-repo.ts';

const canary = inject('canary');
const repoOf = liveRepos();

const validReport = new Ajv2020({ strict: false }).compile(JSON.parse(JSON.stringify(StatusReport)) as object);

/** What gateway `a` says right now, through a client of our own. */
async function readA(repo: LiveRepo): Promise<{ agents: number; hash: string; pending: boolean }> {
  const a = sharedGateway('a');
  const client = await GatewayClient.connect({ url: a.url, token: a.token, device: repo.device, scopes: ['operator.read'], reconnect: false });
  try {
    const gw = new OpenClawGateway(client);
    const [list, config] = await Promise.all([gw.agentsList(), gw.configGet()]);
    return { agents: list.agents.length, hash: config.hash, pending: config.appliedConfigHash !== config.configRevisionHash };
  } finally {
    await client.close();
  }
}

describe('clawops status (real gateway a + a dead port)', () => {
  let repo: LiveRepo;
  let deadPort: number;
  beforeAll(async () => {
    const a = sharedGateway('a');
    deadPort = await freePort();
    // The dead gateway's token is the suite canary: status decrypts it, so it must never be printed.
    repo = await repoOf([
      { name: 'a', url: a.url, token: a.token },
      { name: 'dead', url: `ws://127.0.0.1:${deadPort}`, token: canary },
    ]);
  });

  it('prints an aligned table and the problem, and exits 2 because one gateway is unreachable', async () => {
    const r = await clawops(['status', '--repo', repo.dir], { env: repo.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    const [header, rowA, rowDead, blank, ...problems] = r.stdout.split('\n');
    expect(header).toMatch(/^NAME +URL +STATUS +VERSION +AGENTS +CONFIG +RESTART +HEALTH$/);
    // Columns line up: every value starts where its header does.
    const at = (col: string) => header!.indexOf(col);
    expect(rowA!.slice(at('STATUS')).split(/ +/)[0]).toBe('ok');
    expect(rowA!.slice(at('VERSION')).split(/ +/)[0]).toBe('2026.9.6');
    expect(rowA!.slice(at('HEALTH')).trim()).toMatch(/^(ok|degraded)$/);
    expect(rowDead!.slice(at('STATUS')).split(/ +/)[0]).toBe('unreachable');
    expect(rowDead!.slice(at('VERSION')).split(/ +/)[0]).toBe('-');
    expect(blank).toBe('');
    expect(problems[0]).toBe(`dead is unreachable: ws://127.0.0.1:${deadPort}: connect ECONNREFUSED 127.0.0.1:${deadPort}`);
    expect(r.stdout).not.toContain(sharedGateway('a').token);
  });

  it('--json: the documented shape, sorted by name, with what the gateway itself reports', async () => {
    const before = await readA(repo);
    const r = await clawops(['status', '--repo', repo.dir, '--json'], { env: repo.env });
    const after = await readA(repo);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(validReport(report), JSON.stringify(validReport.errors)).toBe(true);
    expect(report.summary).toEqual({ gateways: 2, reachable: 1, attention: 1 });
    expect(report.gateways.map((g) => g.name)).toEqual(['a', 'dead']);
    const [a, dead] = report.gateways as [StatusReport['gateways'][0], StatusReport['gateways'][0]];
    expect(a).toMatchObject({ url: sharedGateway('a').url, reachable: true, attention: false, version: '2026.9.6', protocol: 4, problems: [] });
    // `a` is shared with other test files; if it changed during the run, either reading is right.
    expect([before.agents, after.agents]).toContain(a.agents);
    expect([before.hash, after.hash]).toContain(a.config?.hash);
    expect(a.pendingRestart).toBe(false);
    expect(a.config?.appliedHash).toBe(a.config?.revisionHash);
    expect(a.health?.ok).toBe(true);
    expect(dead).toMatchObject({ reachable: false, attention: true, version: null, protocol: null, agents: null, config: null, pendingRestart: null, health: null });
    expect(dead.problems).toEqual([{ kind: 'unreachable', message: expect.stringContaining('ECONNREFUSED') as string }]);
  });

  it('--gateway picks gateways; all reachable and healthy exits 0', async () => {
    const r = await clawops(['status', '--repo', repo.dir, '--json', '--gateway', 'a'], { env: repo.env });
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(report.gateways.map((g) => g.name)).toEqual(['a']);
    expect(report.gateways[0]?.problems).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('an unknown --gateway is a usage error with a suggestion', async () => {
    const r = await clawops(['status', '--repo', repo.dir, '--gateway', 'daed'], { env: repo.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('clawops: no Gateway named "daed" in the repo (did you mean "dead"?)\n');
  });

  it('shows progress on a TTY only, and clears it', async () => {
    const tty = await clawops(['status', '--repo', repo.dir], { env: repo.env, tty: true });
    expect(tty.stderr).toMatch(/^\r1\/2 gateways…\r2\/2 gateways…\r\x1b\[K$/);
    const pipe = await clawops(['status', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(pipe.stderr).toBe('');
  });
});

describe('clawops status: failures', () => {
  it('a gateway that accepts the connection but never answers cannot stall the run (--timeout)', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => void sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const repo = await repoOf([{ name: 'silent', url: `ws://127.0.0.1:${port}`, token: 'silent-token' }]);
      const started = Date.now();
      const r = await clawops(['status', '--repo', repo.dir, '--json', '--timeout', '1'], { env: repo.env });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(r.code).toBe(2);
      const g = (JSON.parse(r.stdout) as StatusReport).gateways[0];
      expect(g?.reachable).toBe(false);
      expect(['unreachable', 'timeout']).toContain(g?.problems[0]?.kind);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('a gateway that sends the challenge but never answers connect is a timeout, not a hang', async () => {
    const mute = await startFakeGateway({ connect: () => undefined });
    try {
      const repo = await repoOf([{ name: 'mute', url: mute.url, token: 'mute-token' }]);
      const started = Date.now();
      const r = await clawops(['status', '--repo', repo.dir, '--json', '--timeout', '1'], { env: repo.env });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(r.code).toBe(2);
      expect((JSON.parse(r.stdout) as StatusReport).gateways[0]?.problems).toEqual([
        { kind: 'timeout', message: 'mute: connect got no answer within 1000 ms; the gateway may be restarting or overloaded' },
      ]);
    } finally {
      await mute.close();
    }
  });

  it('an invalid repo exits 1 with its diagnostics and contacts no gateway', async () => {
    const repo = await repoOf([{ name: 'a', url: sharedGateway('a').url, token: sharedGateway('a').token }]);
    writeFileSync(
      join(repo.dir, 'gateways', 'broken.yaml'),
      'apiVersion: clawops.dev/v1\nkind: Gateway\nmetadata: { name: broken }\nspec:\n  url: http://nope\n  auth: { token: { secretRef: broken-token } }\n',
    );
    const r = await clawops(['status', '--repo', repo.dir], { env: repo.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^clawops: \S+ has 1 error; `clawops status` needs a valid repo:\ngateways\/broken\.yaml:5:8 {2}Gateway\/broken {2}spec\.url: /);
  });

  it('without a device key: exit 1 and the hint to pair', async () => {
    const repo = await repoOf([{ name: 'a', url: sharedGateway('a').url, token: sharedGateway('a').token }], { withDeviceKey: false });
    const r = await clawops(['status', '--repo', repo.dir], { env: repo.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('clawops has no device key yet');
    expect(r.stderr).toContain('`clawops gateway pair NAME`');
  });

  it('without an age identity: exit 1 and how to give one', async () => {
    const repo = await repoOf([{ name: 'a', url: sharedGateway('a').url, token: sharedGateway('a').token }]);
    const r = await clawops(['status', '--repo', repo.dir], { env: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CLAWOPS_AGE_IDENTITY');
  });

  it('a token secret clawops cannot decrypt is one gateway’s problem, not the run’s', async () => {
    const a = sharedGateway('a');
    const repo = await repoOf([
      { name: 'a', url: a.url, token: a.token },
      { name: 'b', url: a.url, token: 'unused-token' },
    ]);
    const stranger = await identityToRecipient(await generateX25519Identity());
    writeFileSync(join(repo.dir, 'secrets', 'b-token.age'), await encryptSecret('unused-token', [stranger]));
    const r = await clawops(['status', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(r.code).toBe(2);
    const [ga, gb] = (JSON.parse(r.stdout) as StatusReport).gateways;
    expect(ga?.reachable).toBe(true);
    expect(gb).toMatchObject({ reachable: false, problems: [{ kind: 'credentials', message: expect.stringContaining('cannot decrypt secret "b-token"') as string }] });
  });

  it('an empty fleet is fine', async () => {
    const repo = await repoOf([]);
    const r = await clawops(['status', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ formatVersion: 1, summary: { gateways: 0, reachable: 0, attention: 0 }, gateways: [] });
  });
});

describe('clawops status: states the shared gateway must not be put in (scripted gateway)', () => {
  let fake: FakeGateway;
  let repo: LiveRepo;
  beforeAll(async () => {
    fake = await startFakeGateway({
      methods: {
        'config.get': () => ({
          hash: 'hmac-sha256:v1:authoredRevision1234',
          configRevisionHash: 'hmac-sha256:v1:savedButNotRunning',
          appliedConfigHash: 'hmac-sha256:v1:runningSinceBoot',
          valid: false,
          issues: [{ path: 'agents.entries.x', message: 'Unrecognized key: "y"' }],
          sourceConfig: {},
        }),
        'agents.list': () => ({ defaultId: 'main', agents: [{ id: 'main' }, { id: 'ops' }, { id: 'support' }] }),
        health: () => ({ ok: false, eventLoop: { degraded: true, reasons: ['cpu'] }, plugins: { errors: [{ id: 'x' }] } }),
      },
    });
    repo = await repoOf([{ name: 'scripted', url: fake.url, token: 'scripted-token' }]);
  });
  afterAll(() => fake.close());

  it('reports a pending restart, an invalid config file and failing health: exit 2', async () => {
    const text = await clawops(['status', '--repo', repo.dir], { env: repo.env });
    expect(text.code).toBe(2);
    const lines = text.stdout.split('\n');
    expect(lines[1]).toMatch(/^scripted +ws:\/\/127\.0\.0\.1:\d+ +attention +2026\.9\.6 +3 +authoredRe +pending +failing$/);
    expect(lines.slice(3)).toEqual([
      'scripted: a saved config change waits for a restart (running runningSin, saved savedButNo); restart the gateway to take it',
      `scripted: the gateway's config file is invalid (1 issue, first: agents.entries.x: Unrecognized key: "y"); the gateway keeps running the last valid config`,
      'scripted reports itself unhealthy (health.ok is false); check its logs',
      'note: scripted is degraded: event loop (cpu), 1 plugin error',
      '',
    ]);
    const json = JSON.parse((await clawops(['status', '--repo', repo.dir, '--json'], { env: repo.env })).stdout) as StatusReport;
    expect(json.gateways[0]).toMatchObject({ agents: 3, pendingRestart: true, health: { ok: false, degraded: ['event loop (cpu)', '1 plugin error'] } });
    expect(json.gateways[0]?.problems.map((p) => p.kind)).toEqual(['pending-restart', 'invalid-config', 'unhealthy']);
  });

  it('connects read-only and only reads', () => {
    expect(new Set(fake.calls)).toEqual(new Set(['config.get', 'agents.list', 'health']));
  });
});

describe('status verdicts (pure)', () => {
  const hello = { server: { version: '2026.9.6' }, protocol: 4 };
  const config = (applied: string, revision: string) =>
    ({ hash: 'h', configRevisionHash: revision, appliedConfigHash: applied, valid: true, issues: [], warnings: [], path: '', exists: true, sourceConfig: {} }) as const;
  const ok = <T>(value: T): PromiseSettledResult<T> => ({ status: 'fulfilled', value });

  it('pending restart: applied ≠ revision; unknown when the gateway does not say', () => {
    expect(pendingRestart({ appliedConfigHash: 'x', configRevisionHash: 'x' })).toBe(false);
    expect(pendingRestart({ appliedConfigHash: 'x', configRevisionHash: 'y' })).toBe(true);
    expect(pendingRestart({ appliedConfigHash: '', configRevisionHash: 'y' })).toBe(null);
    expect(pendingRestart({} as never)).toBe(null);
  });

  it('degraded subsystems are notes; only health.ok decides', () => {
    expect(summarizeHealth({ ok: true, eventLoop: { degraded: true, reasons: ['cpu'] }, modelRuntime: { degraded: true } })).toEqual({
      ok: true,
      degraded: ['event loop (cpu)', 'model runtime'],
    });
    const s = gatewayStatus({ name: 'g', url: 'ws://x', hello, config: ok(config('a', 'a')), agents: ok({ defaultId: 'main', agents: [] }), health: ok({ ok: true, eventLoop: { degraded: true } }) });
    expect(s).toMatchObject({ attention: false, pendingRestart: false, agents: 0, problems: [] });
  });

  it('a failed read is a problem of a reachable gateway', () => {
    const s = gatewayStatus({ name: 'g', url: 'ws://x', hello, config: ok(config('a', 'b')), agents: { status: 'rejected', reason: new Error('boom') }, health: ok({ ok: true }) });
    expect(s).toMatchObject({ reachable: true, attention: true, agents: null, pendingRestart: true });
    expect(s.problems.map((p) => p.kind)).toEqual(['error', 'pending-restart']);
  });

  it('short hashes drop the scheme prefix', () => {
    expect(shortHash('hmac-sha256:v1:bHZrgotAYR66TKt87AC3')).toBe('bHZrgotAYR');
    expect(shortHash('plain')).toBe('plain');
  });
});
