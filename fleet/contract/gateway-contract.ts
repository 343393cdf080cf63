/**
 * The gateway contract: what clawops relies on from an OpenClaw gateway, as one suite. It runs
 * against the real gateway (test/contract-real.test.ts) and the simulator (test/contract-sim.test.ts), so a
 * simulator that passes it can stand in for the real thing in benchmarks.
 *
 * The suite writes only agents, cron jobs and files it names itself, and puts shared documents
 * (exec approvals) back, so it can share a gateway. It does restart the gateway once.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient, type GatewayClientOptions } from '../openclaw/client.ts';
import { generateDeviceIdentity } from '../openclaw/device-identity.ts';
import {
  AgentDeletionRefusedError,
  AuthError,
  FrameTooLargeError,
  InvalidConfigError,
  MissingScopeError,
  RateLimitedError,
  ReplacePathsRequiredError,
  StaleHashError,
  WriteNotAppliedError,
} from '../openclaw/errors.ts';
import { OpenClawGateway, type ConfigChangedEvent, type JsonObject } from '../openclaw/gateway-api.ts';
import type { OperatorScope } from '../openclaw/protocol.ts';

export interface GatewayUnderTest {
  readonly url: string;
  readonly token: string;
}

export function defineGatewayContract(label: string, target: () => GatewayUnderTest): void {
  describe(`gateway contract: ${label}`, () => {
    const device = generateDeviceIdentity();
    const run = randomBytes(3).toString('hex');
    const agentId = (name: string) => `ct-${name}-${run}`;
    let gw: OpenClawGateway;
    const opened: GatewayClient[] = [];

    const connect = async (scopes: readonly OperatorScope[] = ['operator.admin'], extra: Partial<GatewayClientOptions> = {}) => {
      const t = target();
      const client = await GatewayClient.connect({ url: t.url, token: t.token, device: extra.device ?? device, scopes, ...extra });
      opened.push(client);
      return client;
    };

    /** Writes a patch against the current hash, re-reading when another client wrote in between. */
    const patch = async (p: JsonObject, replacePaths?: readonly string[]) => {
      for (let attempt = 1; ; attempt++) {
        const { hash } = await gw.configGet();
        try {
          return await gw.configPatch({ patch: p, baseHash: hash, ...(replacePaths ? { replacePaths } : {}) });
        } catch (e) {
          if (!(e instanceof StaleHashError || e instanceof WriteNotAppliedError) || attempt === 5) throw e;
        }
      }
    };
    const entries = async () => ((await gw.configGet()).sourceConfig.agents as { entries: Record<string, JsonObject> }).entries;

    beforeAll(async () => {
      gw = new OpenClawGateway(await connect());
    });

    afterAll(async () => {
      for (const id of Object.keys(await entries().catch(() => ({})))) if (id.endsWith(`-${run}`)) await gw.agentsDelete(id, { deleteFiles: true }).catch(() => undefined);
      for (const job of await gw.cronList().catch(() => [])) if (job.declarationKey?.endsWith(run)) await gw.cronRemove(job.id).catch(() => undefined);
      await Promise.all(opened.map((c) => c.close()));
    });

    describe('session', () => {
      it('completes the protocol-4 handshake with the requested scopes and a device token', () => {
        const hello = gw.client.hello;
        expect(hello.protocol).toBe(4);
        expect(hello.server.version).toMatch(/^\d{4}\.\d+\.\d+/);
        expect(hello.auth?.scopes).toEqual(['operator.admin']);
        expect(hello.auth?.deviceToken).toEqual(expect.any(String));
        expect(hello.policy.maxPayload).toBeGreaterThan(64 * 1024);
        expect(hello.policy.tickIntervalMs).toBeGreaterThan(0);
      });

      it('refuses a wrong token with the gateway’s reason', async () => {
        const err = await connect(['operator.read'], { token: 'not-the-token', device: generateDeviceIdentity() }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AuthError);
        expect((err as AuthError).reason).toBe('AUTH_TOKEN_MISMATCH');
      });

      it('accepts the issued device token in place of the shared token', async () => {
        const deviceToken = gw.client.hello.auth?.deviceToken;
        expect(deviceToken).toBeTruthy();
        const t = target();
        const client = await GatewayClient.connect({ url: t.url, deviceToken: deviceToken ?? '', device, scopes: ['operator.admin'] });
        opened.push(client);
        expect(client.hello.auth?.scopes).toContain('operator.admin');
        await expect(new OpenClawGateway(client).configGet()).resolves.toHaveProperty('hash');
      });

      it('refuses a method outside the granted scopes with a typed missing-scope error', async () => {
        const reader = new OpenClawGateway(await connect(['operator.read']));
        const { hash } = await reader.configGet();
        const err = await reader.configPatch({ patch: { agents: { entries: { [agentId('scope')]: { name: 'x' } } } }, baseHash: hash }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(MissingScopeError);
        expect((err as MissingScopeError).missingScope).toBe('operator.admin');
      });

      it('refuses an oversized frame: the client before sending, the gateway by closing', async () => {
        const limit = gw.client.hello.policy.maxPayload;
        const err = await gw.client.request('config.get', { pad: 'x'.repeat(limit + 1) }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FrameTooLargeError);
        expect((err as FrameTooLargeError).limit).toBe(limit);
        // The gateway's own limit, seen on a raw socket: 64 KiB before the handshake.
        const code = await new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(target().url);
          ws.on('open', () => ws.send('x'.repeat(65 * 1024 + 1)));
          ws.on('close', (c) => resolve(c));
          ws.on('error', reject);
        });
        expect(code).toBe(1009);
        await expect(gw.configGet()).resolves.toHaveProperty('hash'); // our session is unaffected
      });
    });

    describe('config', () => {
      it('reads the authored config with its hashes', async () => {
        const snap = await gw.configGet();
        expect(snap.hash).toMatch(/^[\w-]+:/);
        expect(snap.valid).toBe(true);
        expect(snap.configRevisionHash).toEqual(expect.any(String));
        expect(snap.appliedConfigHash).toEqual(expect.any(String));
        expect(snap.sourceConfig).toHaveProperty('agents.entries');
        expect(JSON.stringify(snap.sourceConfig)).not.toContain(target().token);
      });

      it('serves its JSON Schema and path lookups', async () => {
        const schema = await gw.configSchema();
        expect(schema.version).toBe(gw.version);
        expect(schema.schema).toHaveProperty('properties.agents');
        const lookup = await gw.configSchemaLookup('agents.entries.*.tools');
        expect(lookup.children.map((c) => c.key)).toEqual(expect.arrayContaining(['profile', 'allow', 'deny']));
      });

      it('applies a merge patch, reports the changed paths and announces config.changed', async () => {
        const id = agentId('patch');
        const seen = new Promise<ConfigChangedEvent>((resolve) => {
          const off = gw.onConfigChanged((e) => {
            off();
            resolve(e);
          });
        });
        const res = await patch({ agents: { ownership: 'explicit', entries: { [id]: { name: 'Patch', tools: { profile: 'coding', deny: ['browser', 'canvas'] }, skills: ['a'] } } } });
        expect(res.ok).toBe(true);
        expect(res.requiresRestart).toBe(false);
        expect(res.changedPaths).toEqual(expect.arrayContaining([expect.stringContaining(`agents.entries.${id}`)]));
        const after = await gw.configGet();
        expect(after.hash).toBe(res.hash);
        expect((await seen).hash).toBe(res.hash);
        expect((after.sourceConfig.agents as { entries: Record<string, unknown> }).entries[id]).toMatchObject({ name: 'Patch', tools: { deny: ['browser', 'canvas'] } });
      });

      it('refuses a stale baseHash and leaves the config alone', async () => {
        const id = agentId('stale');
        await patch({ agents: { ownership: 'explicit', entries: { [id]: { name: 'One' } } } });
        const before = await gw.configGet();
        await patch({ agents: { entries: { [id]: { name: 'Two' } } } });
        const err = await gw.configPatch({ patch: { agents: { entries: { [id]: { name: 'Clobber' } } } }, baseHash: before.hash }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StaleHashError);
        expect((err as StaleHashError).document).toBe('config');
        expect((await entries())[id]).toMatchObject({ name: 'Two' });
      });

      it('refuses to shrink an array unless the path is in replacePaths', async () => {
        const id = agentId('shrink');
        await patch({ agents: { ownership: 'explicit', entries: { [id]: { tools: { deny: ['browser', 'canvas'] } } } } });
        const err = await patch({ agents: { entries: { [id]: { tools: { deny: ['browser'] } } } } }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ReplacePathsRequiredError);
        expect((err as ReplacePathsRequiredError).paths).toEqual([`agents.entries.${id}.tools.deny`]);
        await patch({ agents: { entries: { [id]: { tools: { deny: ['browser'] } } } } }, [`agents.entries.${id}.tools.deny`]);
        expect((await entries())[id]).toMatchObject({ tools: { deny: ['browser'] } });
      });

      it('deletes agents only through agents.delete, never by a null patch', async () => {
        const id = agentId('delete');
        await patch({ agents: { ownership: 'explicit', entries: { [id]: { name: 'Doomed' } } } });
        const err = await patch({ agents: { entries: { [id]: null } } }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AgentDeletionRefusedError);
        expect((err as AgentDeletionRefusedError).agentIds).toEqual([id]);
        // agents.delete also removes the agent's routes.
        await patch({ bindings: [...(((await gw.configGet()).sourceConfig.bindings as JsonObject[] | undefined) ?? []), { agentId: id, match: { channel: 'telegram', accountId: 'ops' } }] });
        await expect(gw.agentsDelete(id, { deleteFiles: true })).resolves.toMatchObject({ ok: true, removedBindings: 1 });
        const after = await gw.configGet();
        expect((after.sourceConfig.agents as { entries: Record<string, unknown> }).entries[id]).toBeUndefined();
        expect(JSON.stringify(after.sourceConfig.bindings ?? [])).not.toContain(id);
      });

      it('refuses an invalid config and names the offending paths', async () => {
        const id = agentId('invalid');
        const err = await patch({ agents: { ownership: 'explicit', entries: { [id]: { notAKey: true } } } }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidConfigError);
        expect((err as InvalidConfigError).issues).toEqual([expect.objectContaining({ path: `agents.entries.${id}`, message: expect.stringContaining('notAKey') })]);
      });

      it('replaces the whole document with config.apply', async () => {
        const id = agentId('apply');
        await patch({ agents: { ownership: 'explicit', entries: { [id]: { name: 'Before' } } } });
        const snap = await gw.configGet();
        const doc = structuredClone(snap.sourceConfig) as { agents: { entries: Record<string, JsonObject> } };
        (doc.agents.entries[id] as JsonObject).name = 'After';
        const res = await gw.configApply({ config: doc, baseHash: snap.hash });
        expect(res.ok).toBe(true);
        expect((await entries())[id]).toMatchObject({ name: 'After' });
        // The token came back as the redaction sentinel and must not have been overwritten by it.
        await expect(connect(['operator.read'])).resolves.toBeDefined();
      });

      it('keeps a journal of who changed which paths', async () => {
        const id = agentId('journal');
        await patch({ agents: { ownership: 'explicit', entries: { [id]: { name: 'J' } } } });
        const { entries: journal } = await gw.changesList({ limit: 20 });
        const mine = journal.find((e) => e.changedPaths.some((p) => p.startsWith(`agents.entries.${id}`)));
        expect(mine).toMatchObject({ kind: 'config-write', source: 'config-rpc' });
      });
    });

    describe('agents, files, exec approvals, cron', () => {
      it('lists agents and guards workspace files by hash', async () => {
        const id = agentId('files');
        await patch({ agents: { ownership: 'explicit', entries: { [id]: { name: 'Files' } } } });
        expect((await gw.agentsList()).agents.map((a) => a.id)).toContain(id);
        const listed = await gw.agentFilesList(id);
        expect(listed.map((f) => f.name)).toContain('SOUL.md');
        const written = await gw.agentFileSet({ agentId: id, name: 'SOUL.md', content: 'Be kind. Ünïcödé ✓\n' });
        expect(written.hash).toMatch(/^[0-9a-f]{64}$/);
        const read = await gw.agentFileGet(id, 'SOUL.md');
        expect(read.content).toBe('Be kind. Ünïcödé ✓\n');
        expect(read.hash).toBe(written.hash);
        const err = await gw.agentFileSet({ agentId: id, name: 'SOUL.md', content: 'clobber', expectedHash: '0'.repeat(64) }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StaleHashError);
        expect((err as StaleHashError).document).toBe('agent-file');
        await gw.agentFileSet({ agentId: id, name: 'SOUL.md', content: 'v2\n', expectedHash: written.hash ?? '' });
        expect((await gw.agentFileGet(id, 'SOUL.md')).content).toBe('v2\n');
      });

      it('guards the exec-approval document by its own hash', async () => {
        const original = await gw.execApprovalsGet();
        const id = agentId('exec');
        try {
          const file = { ...original.file, agents: { ...original.file.agents, [id]: { security: 'allowlist', ask: 'on-miss', allowlist: [{ pattern: '/usr/bin/git' }] } } };
          const set = await gw.execApprovalsSet({ file, baseHash: original.hash });
          expect(set.hash).not.toBe(original.hash);
          expect((await gw.execApprovalsGet()).file.agents?.[id]).toMatchObject({ security: 'allowlist', allowlist: [{ pattern: '/usr/bin/git' }] });
          const err = await gw.execApprovalsSet({ file: original.file, baseHash: original.hash }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StaleHashError);
          expect((err as StaleHashError).document).toBe('exec-approvals');
        } finally {
          const now = await gw.execApprovalsGet();
          await gw.execApprovalsSet({ file: original.file, baseHash: now.hash });
        }
      });

      it('upserts cron jobs by declarationKey, updates and removes them', async () => {
        const key = `clawops:contract:${run}`;
        const job = {
          name: `contract-${run}`,
          declarationKey: key,
          agentId: 'main',
          enabled: false,
          schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' },
          sessionTarget: 'isolated',
          wakeMode: 'now',
          payload: { kind: 'agentTurn', message: 'Write the nightly report.' },
          delivery: { mode: 'none' },
        };
        const first = await gw.cronAdd(job);
        expect(first.created).toBe(true);
        const again = await gw.cronAdd({ ...job, schedule: { kind: 'cron', expr: '0 4 * * *', tz: 'UTC' } });
        expect(again).toMatchObject({ created: false, updated: true, job: { id: first.job.id } });
        await gw.cronUpdate(first.job.id, { description: 'updated' });
        const listed = (await gw.cronList()).find((j) => j.declarationKey === key);
        expect(listed).toMatchObject({ id: first.job.id, enabled: false, schedule: { expr: '0 4 * * *' } });
        await expect(gw.cronRemove(first.job.id)).resolves.toMatchObject({ removed: true });
        expect((await gw.cronList()).some((j) => j.declarationKey === key)).toBe(false);
      });
    });

    describe('usage, health, identity', () => {
      it('reports usage and cost', async () => {
        const cost = await gw.usageCost({ days: 1 });
        expect(cost.totals.totalCost).toEqual(expect.any(Number));
        expect(cost.daily).toHaveLength(1);
        const sessions = await gw.sessionsUsage({});
        expect(sessions).toHaveProperty('sessions');
      });

      it('reports health, status and its own identity', async () => {
        expect((await gw.health()).ok).toBe(true);
        expect((await gw.status()).runtimeVersion).toBe(gw.version);
        expect((await gw.identity()).deviceId).toMatch(/^[0-9a-f]{64}$/);
      });
    });

    describe('faults', () => {
      it('surfaces the write rate limit as a typed error with its retry time', async () => {
        // A device of its own: the limit is per device and method, and must not starve the others.
        const limited = new OpenClawGateway(await connect(['operator.admin'], { device: generateDeviceIdentity() }));
        let hit: unknown;
        for (let i = 0; i < 40 && !hit; i++) {
          await limited.configPatch({ patch: { agents: { entries: { [agentId('rate')]: { name: 'x' } } } }, baseHash: 'stale' }).catch((e: unknown) => {
            if (!(e instanceof StaleHashError)) hit = e;
          });
        }
        expect(hit).toBeInstanceOf(RateLimitedError);
        expect((hit as RateLimitedError).retryAfterMs).toBeGreaterThan(1_000);
        expect((hit as RateLimitedError).details.limit).toBe('30 per 60s');
        // Other devices are not affected.
        await expect(gw.configGet()).resolves.toHaveProperty('hash');
      });

      it('reconnects after a restart, answers requests made across it, and re-reads', { timeout: 90_000 }, async () => {
        const client = await connect();
        const api = new OpenClawGateway(client);
        const before = await api.configGet();
        const reconnected = new Promise<void>((resolve) => client.onReconnect(() => resolve()));
        const connBefore = client.hello.server.connId;
        await client.request('gateway.restart.request', { reason: 'clawops contract test' });
        // Reads issued while the gateway goes down and comes back must all be answered.
        const reads: Promise<unknown>[] = [];
        let done = false;
        void reconnected.then(() => (done = true));
        while (!done) {
          reads.push(api.configGet());
          await new Promise((r) => setTimeout(r, 200));
        }
        await expect(Promise.all(reads)).resolves.toBeDefined();
        expect(client.state).toBe('open');
        expect(client.hello.server.connId).not.toBe(connBefore);
        const after = await api.configGet();
        expect(after.hash).toBe(before.hash);
        expect(after.appliedConfigHash).toBe(after.configRevisionHash);
      });
    });
  });
}
