/**
 * `reconcile --interval DUR` and `--watch`: runs one after another, never overlapping, until
 * SIGINT or SIGTERM (the run in progress finishes first: stopping mid-apply would leave a gateway
 * for the rollback path). `--watch` also keeps a read-only session to every gateway of the shard
 * and starts a run soon after a `config.changed` event (a burst of events makes one run), so an
 * edit made outside git is seen in seconds instead of at the next interval.
 */
import type { OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import { openGatewayWithin } from '../live/connect-within.ts';
import { accessContext, loadValidRepo, selectGateways } from '../live/fleet-repo.ts';
import { gatewayClientOptions, loadDevice } from '../live/gateway-access.ts';
import { inShard } from '../live/shard.ts';
import type { ExitCode, Ports } from '../ports.ts';
import { reconcileOnce, runHolder, type ReconcileOptions } from './run-once.ts';
import type { RunReport } from './summary.ts';

export interface LoopOptions extends ReconcileOptions {
  readonly intervalMs: number;
  readonly watch: boolean;
  /** A run starts this long after the last `config.changed` of a burst. */
  readonly debounceMs?: number;
}

export interface LoopHooks {
  readonly signal: AbortSignal;
  readonly onReport: (report: RunReport) => void;
  /** A run that could not start (invalid repo, sync refused): the loop goes on. */
  readonly onError: (error: unknown) => ExitCode;
}

export async function reconcileLoop(opts: LoopOptions, ports: Ports, hooks: LoopHooks): Promise<ExitCode> {
  let last: ExitCode = 0;
  let wake: (() => void) | undefined;
  let triggered = false;
  const trigger = () => {
    triggered = true;
    wake?.();
  };
  hooks.signal.addEventListener('abort', trigger, { once: true });
  const watchers = opts.watch ? new Watchers(opts, ports, trigger, opts.debounceMs ?? 2000) : undefined;
  const holder = runHolder();
  try {
    while (!hooks.signal.aborted) {
      triggered = false;
      try {
        await watchers?.refresh();
        const report = await reconcileOnce(opts, ports, holder);
        last = report.exitCode;
        hooks.onReport(report);
      } catch (e) {
        last = hooks.onError(e);
      }
      if (hooks.signal.aborted) break;
      if (!triggered) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, opts.intervalMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  } finally {
    await watchers?.close();
  }
  return last;
}

/** One read-only session per gateway of the shard, re-made when the repo's gateways change. */
class Watchers {
  private readonly sessions = new Map<string, { url: string; session: OpenClawGateway; off: () => void }>();
  private timer: NodeJS.Timeout | undefined;

  private readonly opts: LoopOptions;
  private readonly ports: Ports;
  private readonly fire: () => void;
  private readonly debounceMs: number;

  constructor(opts: LoopOptions, ports: Ports, fire: () => void, debounceMs: number) {
    this.opts = opts;
    this.ports = ports;
    this.fire = fire;
    this.debounceMs = debounceMs;
  }

  async refresh(): Promise<void> {
    const repo = await loadValidRepo(this.opts.repo, 'reconcile', this.ports.now());
    const shard = this.opts.shard;
    const gateways = selectGateways(repo, this.opts.gateway).filter((g) => !shard || inShard(g.name, shard));
    const wanted = new Map(gateways.map((g) => [g.name, g]));
    for (const [name, w] of this.sessions) {
      if (wanted.get(name)?.value.spec.url === w.url) continue;
      w.off();
      await w.session.client.close();
      this.sessions.delete(name);
    }
    const missing = gateways.filter((g) => !this.sessions.has(g.name));
    if (!missing.length) return;
    const access = await accessContext(repo, this.opts.identity, this.ports);
    const device = await loadDevice(access);
    await Promise.all(
      missing.map(async (gw) => {
        try {
          const options = await gatewayClientOptions(gw, access, { scopes: ['operator.read'], device, requestTimeoutMs: this.opts.timeout * 1000 });
          // Reconnects through restarts for as long as the loop runs.
          const session = await openGatewayWithin({ ...options, reconnect: { giveUpAfterMs: Number.MAX_SAFE_INTEGER } }, this.opts.timeout * 1000);
          const off = session.onConfigChanged(() => this.debounced());
          this.sessions.set(gw.name, { url: gw.value.spec.url, session, off });
        } catch (e) {
          // The run reports an unreachable gateway; watching it is retried at the next refresh.
          this.ports.err.write(`watch: ${gw.name}: ${(e as Error).message}\n`);
        }
      }),
    );
  }

  private debounced(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.fire, this.debounceMs);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all([...this.sessions.values()].map(async (w) => {
      w.off();
      await w.session.client.close();
    }));
    this.sessions.clear();
  }
}
