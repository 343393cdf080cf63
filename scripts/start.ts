/**
 * `npm start`: the main job on the bundled example fleet. Today that is loading and validating
 * examples/fleet and showing what it declares per gateway; reconciling it onto local gateways
 * arrives with the gateway client and the reconcile loop.
 */
import { join } from 'node:path';
import { formatDiagnostic } from '../reconciler/diagnostics/diagnostic.ts';
import { loadRepo } from '../reconciler/load/load-repo.ts';
import { ofKind } from '../reconciler/load/resource.ts';
import { targetGateways } from '../reconciler/model/selector.ts';

const repoDir = join(import.meta.dirname, '..', 'examples', 'fleet');
const t0 = performance.now();
const repo = await loadRepo(repoDir);
const ms = performance.now() - t0;
for (const d of repo.diagnostics) console.log(formatDiagnostic(d));
if (repo.diagnostics.some((d) => d.severity === 'error')) process.exit(1);

const counts = new Map<string, number>();
for (const r of repo.resources) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
console.log(`examples/fleet: ${repo.resources.length} resources in ${repo.fileCount} files, valid (${ms.toFixed(0)} ms)`);
console.log(`  ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`);
const agents = ofKind(repo.resources, 'Agent');
for (const gw of ofKind(repo.resources, 'Gateway')) {
  const here = agents.filter((a) => targetGateways(a.value.spec, [gw]).length > 0);
  console.log(`  gateway ${gw.name} (${gw.value.spec.url}): ${here.map((a) => a.value.spec.id ?? a.name).join(', ') || 'no agents'}`);
}
console.log('Next: `npx clawops validate --repo examples/fleet`, `npx clawops init my-fleet`.');
