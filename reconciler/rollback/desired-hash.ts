/**
 * One hash for "what this gateway should hold": the rendered agents (config, routes, cron jobs,
 * file hashes, exec-approval entry, ignore rules), nothing about where in the YAML they came from.
 * Re-formatting or moving YAML keeps the hash; any change the gateway would see moves it. A
 * rollback pin holds while main's hash stays the one it was set against.
 */
import { createHash } from 'node:crypto';
import type { DesiredGateway } from '../desired/effective-state.ts';
import { stableJson } from '../state/git-branch-store.ts';

export function desiredHash(desired: DesiredGateway): string {
  const agents = [...desired.agents.values()]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((a) => ({
      id: a.id,
      config: a.config,
      bindings: a.bindings,
      cron: a.cron.map((c) => c.job),
      files: a.files.map((f) => [f.name, f.sha256]),
      exec: a.exec?.policy ?? null,
      ignore: a.ignore,
    }));
  return `sha256:${createHash('sha256').update(stableJson(agents)).digest('hex')}`;
}
