/**
 * The demo's two real gateways, started in parallel with a line as each is ready. Every start is
 * kept as a promise so that `stopAll` (the `finally` and the signal handlers) also stops a gateway
 * whose start was still under way when the demo ended.
 */
import { startGateway, type RealGateway } from '../../fleet/harness/real-gateway.ts';
import { seconds, waiting } from './terminal.ts';

export class DemoGateways {
  private readonly starts: Array<Promise<RealGateway>> = [];

  async start(names: readonly string[], token: string, say: (line: string) => void): Promise<Map<string, RealGateway>> {
    const starts = names.map((name) => {
      const p = startGateway({ name, token });
      this.starts.push(p);
      return p.then((g) => {
        say(`✓ ${g.name} ready at ${g.url} (openclaw ${g.version}, ${seconds(g.startedToHelloMs)})`);
        return g;
      });
    });
    const settled = await waiting(`starting ${names.join(' and ')}`, Promise.allSettled(starts));
    const failed = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failed.length) throw new Error(failed.map((e) => e.message).join('\n\n'), { cause: failed[0] });
    return new Map(settled.flatMap((r) => (r.status === 'fulfilled' ? [[r.value.name, r.value] as const] : [])));
  }

  /** Stops every gateway started or starting; safe to call more than once. */
  async stopAll(): Promise<void> {
    const settled = await Promise.allSettled(this.starts);
    await Promise.allSettled(settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : [])));
  }
}
