/**
 * `clawops import --gateway NAME|URL`: reads one live gateway and writes its agents, routes, cron
 * jobs, workspace files and exec approvals into the fleet repo as commented YAML. Connecting and
 * printing live here; the live → YAML mapping is reconciler/import/.
 */
import type { Command, Option } from 'commander';
import { relative, resolve } from 'node:path';
import { GatewayError, GatewayTransportError } from '../../../fleet/openclaw/errors.ts';
import type { GatewayClientOptions } from '../../../fleet/openclaw/client.ts';
import type { OperatorScope } from '../../../fleet/openclaw/protocol.ts';
import { didYouMean } from '../../diagnostics/did-you-mean.ts';
import { ClawopsError, UsageError } from '../../errors.ts';
import { readLiveState } from '../../import/live-state.ts';
import { importOutput } from '../../import/output-files.ts';
import { planImport } from '../../import/plan-import.ts';
import { formatImportSummary, importReport } from '../../import/summary.ts';
import { existingPaths, writeAllOrNothing } from '../../import/write-all.ts';
import { gatewayNameFromUrl, isName } from '../../import/names.ts';
import { explainGatewayError } from '../../live/explain-gateway-error.ts';
import { accessContext } from '../../live/fleet-repo.ts';
import { DEVICE_KEY_ENV, DEVICE_KEY_SECRET, DeviceKeyError, gatewayClientOptions, loadDevice, openGateway } from '../../live/gateway-access.ts';
import { ensureDevice } from '../../live/pair.ts';
import { loadRepo, RepoNotFoundError, type FleetRepo } from '../../load/load-repo.ts';
import { ofKind, resourceId, type LoadedOf } from '../../load/resource.ts';
import { targetGateways } from '../../model/selector.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import { loadIdentities } from '../../secrets/age-store.ts';
import { CLAWOPS_VERSION } from '../../version.ts';
import type { CommandContext } from '../program.ts';

/** Where import-by-URL reads the gateway's shared token: never from argv, where `ps` shows it. */
export const GATEWAY_TOKEN_ENV = 'CLAWOPS_GATEWAY_TOKEN';
/** `exec.approvals.get` is admin-only; everything else import reads needs `operator.read`. */
const SCOPES: readonly OperatorScope[] = ['operator.admin'];

export interface ImportOptions {
  readonly gateway: string;
  readonly out?: string | undefined;
  readonly repo: string;
  readonly identity?: string | undefined;
  readonly name?: string | undefined;
  readonly json: boolean;
}

export class ImportConflictError extends ClawopsError<{ conflicts: string[] }> {
  readonly code = 'IMPORT_CONFLICT';
}

export class ImportGatewayError extends ClawopsError<{ gateway: string; kind: string }> {
  readonly code = 'IMPORT_GATEWAY';
}

interface Target {
  readonly name: string;
  readonly options: GatewayClientOptions;
  readonly newGateway?: { url: string; tokenSecret: string; token: string };
}

const isUrl = (s: string) => /^wss?:\/\//i.test(s);

async function loadRepoIfAny(root: string): Promise<FleetRepo | undefined> {
  try {
    return await loadRepo(root);
  } catch (e) {
    if (e instanceof RepoNotFoundError) return undefined;
    throw e;
  }
}

async function repoGatewayTarget(o: ImportOptions, repo: FleetRepo, ports: Ports): Promise<Target> {
  const gateways = ofKind(repo.resources, 'Gateway');
  const gw = gateways.find((g) => g.name === o.gateway);
  if (!gw) {
    const known = gateways.map((g) => g.name);
    const guess = didYouMean(o.gateway, known);
    throw new UsageError(
      `no Gateway named "${o.gateway}" in ${o.repo}${guess ? ` (did you mean "${guess}"?)` : known.length ? ` (known: ${known.join(', ')})` : ''}; pass a ws:// or wss:// URL to import a gateway the repo does not have yet`,
      {},
    );
  }
  const ctx = await accessContext(repo, o.identity, ports);
  const device = await loadDevice(ctx);
  return { name: gw.name, options: await gatewayClientOptions(gw, ctx, { scopes: SCOPES, device }) };
}

async function urlTarget(o: ImportOptions, repo: FleetRepo | undefined, root: string, ports: Ports): Promise<Target> {
  let url: URL;
  try {
    url = new URL(o.gateway);
  } catch {
    throw new UsageError(`--gateway ${o.gateway} is not a valid URL`, {});
  }
  if (url.username || url.password) throw new UsageError(`put the gateway's token in ${GATEWAY_TOKEN_ENV}, not in the URL`, {});
  const name = o.name ?? gatewayNameFromUrl(url);
  if (!isName(name)) throw new UsageError(`"${name}" is not a valid Gateway name (lower-case letters, digits and dashes, at most 63); pass --name`, {});
  const plainUrl = url.toString().replace(/\/$/, '');
  const gateways = repo ? ofKind(repo.resources, 'Gateway') : [];
  const existing = gateways.find((g) => g.name === name) ?? gateways.find((g) => g.value.spec.url.replace(/\/$/, '').toLowerCase() === plainUrl.toLowerCase());
  if (existing) {
    throw new ImportConflictError(
      `the repo already has Gateway/${existing.name} (${existing.file})${existing.name === name ? '' : ` for ${plainUrl}`}; import it by name (--gateway ${existing.name})${existing.name === name ? ' or pick another --name' : ''}`,
      { conflicts: [existing.file] },
    );
  }
  const token = ports.env[GATEWAY_TOKEN_ENV]?.trim();
  if (!token) throw new UsageError(`importing by URL needs the gateway's shared token in ${GATEWAY_TOKEN_ENV}`, {});
  ports.redactor.add(token, `${name}-token`);
  // The device key may come from the environment alone, so a repo (and an age identity) is optional here.
  const keyFromEnv = Boolean(ports.env[DEVICE_KEY_ENV]?.trim());
  if (!keyFromEnv && !repo?.config) {
    throw new DeviceKeyError(`clawops connects with its device key, and ${o.repo} has no valid clawops.yaml to keep one with; import into a fleet repo (\`clawops init\`) or set ${DEVICE_KEY_ENV}`, { secret: DEVICE_KEY_ENV });
  }
  const ids = keyFromEnv ? [] : await loadIdentities({ identityFile: o.identity, env: ports.env, redactor: ports.redactor });
  const access = { root, identities: ids, redactor: ports.redactor, env: ports.env };
  // Like `gateway pair`: a repo without a device key gets one, so import by URL can bootstrap a fleet.
  const { device, source } = keyFromEnv || !repo?.config ? { device: await loadDevice(access), source: 'env' } : await ensureDevice(access, repo.config.spec.secrets.recipients);
  if (source === 'created') ports.err.write(`✓ created clawops' device key (secrets/${DEVICE_KEY_SECRET}.age); the gateway pairs it on first connect\n`);
  return {
    name,
    options: { url: plainUrl, token, device, scopes: SCOPES, clientVersion: CLAWOPS_VERSION, displayName: 'clawops', startupTimeoutMs: 15_000 },
    newGateway: { url: plainUrl, tokenSecret: `${name}-token`, token },
  };
}

/** Agent ids the repo already puts on gateway `name`, and which resource does. */
function declaredAgents(repo: FleetRepo | undefined, name: string): Map<string, string> {
  const declared = new Map<string, string>();
  if (!repo) return declared;
  const gateways = ofKind(repo.resources, 'Gateway');
  const lands = (spec: LoadedOf<'Agent'>['value']['spec'] | LoadedOf<'TemplateDeployment'>['value']['spec']) => targetGateways(spec, gateways).some((g) => g.name === name);
  for (const a of ofKind(repo.resources, 'Agent')) if (lands(a.value.spec)) declared.set(a.value.spec.id ?? a.name, `${resourceId(a)} in ${a.file}`);
  for (const d of ofKind(repo.resources, 'TemplateDeployment')) {
    if (lands(d.value.spec)) for (const i of d.value.spec.instances) declared.set(i.name, `${resourceId(d)} in ${d.file}`);
  }
  return declared;
}

export async function runImport(o: ImportOptions, ports: Ports): Promise<ExitCode> {
  const root = resolve(ports.cwd, o.repo);
  const out = resolve(ports.cwd, o.out ?? o.repo);
  const byUrl = isUrl(o.gateway);
  if (!byUrl && o.name) throw new UsageError('--name only applies when --gateway is a URL', {});
  const repo = byUrl ? await loadRepoIfAny(root) : await loadRepo(root);
  const target = repo && !byUrl ? await repoGatewayTarget(o, repo, ports) : await urlTarget(o, repo, root, ports);

  const live = await (async () => {
    let gw;
    try {
      gw = await openGateway(target.options);
      return await readLiveState(gw);
    } catch (e) {
      if (e instanceof GatewayError || e instanceof GatewayTransportError) {
        const problem = explainGatewayError(e, target.name);
        const hint = problem.kind === 'scope' ? ' (import reads exec approvals, which needs operator.admin)' : '';
        throw new ImportGatewayError(problem.message + hint, { gateway: target.name, kind: problem.kind }, { cause: e });
      }
      throw e;
    } finally {
      await gw?.client.close();
    }
  })();

  const taken = {
    Agent: repo ? ofKind(repo.resources, 'Agent').map((r) => r.name) : [],
    ApprovalRule: repo ? ofKind(repo.resources, 'ApprovalRule').map((r) => r.name) : [],
  };
  const recipients = repo?.config?.spec.secrets.recipients ?? [];
  const plan = planImport({
    live,
    gatewayName: target.name,
    ...(target.newGateway ? { newGateway: target.newGateway } : {}),
    taken,
    declared: byUrl ? new Map() : declaredAgents(repo, target.name),
    canEncrypt: recipients.length > 0,
    importedAt: ports.now().toISOString(),
    maskKnownSecrets: (text) => ports.redactor.redact(text),
  });
  const output = await importOutput(plan, { root, out, recipients });

  const conflicts = (await existingPaths(output.files)).map((p) => relative(ports.cwd, p) || p);
  if (conflicts.length) {
    const shown = conflicts.slice(0, 10).map((c) => `\n  ${c}`).join('');
    throw new ImportConflictError(
      `import would overwrite ${conflicts.length} existing file${conflicts.length === 1 ? '' : 's'}; nothing was written:${shown}${conflicts.length > 10 ? `\n  … and ${conflicts.length - 10} more` : ''}\n(move them away, or import into another folder with --out)`,
      { conflicts },
    );
  }
  await writeAllOrNothing(output.files);

  const report = importReport(plan, output, { cwd: ports.cwd, out: o.out ?? o.repo });
  if (o.json) ports.out.write(JSON.stringify(report, null, 2) + '\n');
  else {
    ports.out.write(formatImportSummary(report));
    for (const w of report.warnings) ports.err.write(`warning: ${w}\n`);
  }
  return 0;
}

export function registerImport(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  program
    .command('import')
    .description("read a live gateway and write its agents, routes, cron jobs, workspace files and exec approvals as YAML (refuses to overwrite)")
    .requiredOption('--gateway <name|url>', `a Gateway of the repo, or a ws:// / wss:// URL (its token read from ${GATEWAY_TOKEN_ENV})`)
    .option('--out <dir>', 'where to write the YAML (default: the repo root)')
    .option('--identity <file>', 'age identity file (default: CLAWOPS_AGE_IDENTITY)')
    .option('--name <name>', 'name of the new Gateway when importing by URL (default: from its host and port)')
    .addOption(repoOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Writes gateways/<gateway>.yaml (only for a URL), agents/<gateway>/<agent>.yaml with the
agent's workspace files next to it, and approvals/<gateway>/<agent>.yaml; all of it or
nothing, and never over an existing file. Secrets the gateway redacts become secretRefs.
Gateway-wide settings (agents.defaults, models, channels, …) stay on the gateway and are
listed as "not imported".

Connects with scope operator.admin: exec.approvals.get requires it.`,
    )
    .action(async (o: ImportOptions) => {
      ctx.exitCode = await runImport(o, ctx.ports);
    });
}
