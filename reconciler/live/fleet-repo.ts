/**
 * The fleet repo as commands that talk to gateways need it: valid (a live command never acts on a
 * repo `validate` rejects), its Gateways picked by name, and the context for decrypting secrets.
 */
import { formatDiagnostic, isError } from '../diagnostics/diagnostic.ts';
import { didYouMean } from '../diagnostics/did-you-mean.ts';
import { ClawopsError, UsageError } from '../errors.ts';
import { loadRepo, type FleetRepo } from '../load/load-repo.ts';
import { ofKind, type LoadedOf } from '../load/resource.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import type { Ports } from '../ports.ts';
import { loadIdentities } from '../secrets/age-store.ts';
import type { AccessContext } from './gateway-access.ts';

export class InvalidRepoError extends ClawopsError<{ repo: string; errors: number }> {
  readonly code = 'INVALID_REPO';
}

export interface ValidRepo extends FleetRepo {
  readonly config: RepositoryConfig;
}

/** Loads the repo; any error diagnostic aborts with all diagnostics listed, as `validate` prints them. */
export async function loadValidRepo(dir: string, command: string, now?: Date): Promise<ValidRepo> {
  const repo = await loadRepo(dir, now ? { now } : {});
  const errors = repo.diagnostics.filter(isError).length;
  if (errors || !repo.config) {
    throw new InvalidRepoError(
      `${dir} has ${errors} error${errors === 1 ? '' : 's'}; \`clawops ${command}\` needs a valid repo:\n${repo.diagnostics.map(formatDiagnostic).join('\n')}`,
      { repo: dir, errors },
    );
  }
  return repo as ValidRepo;
}

/** The Gateways named (all of them when none is), sorted by name; an unknown name is a usage error. */
export function selectGateways(repo: FleetRepo, names: readonly string[] = []): Array<LoadedOf<'Gateway'>> {
  const all = ofKind(repo.resources, 'Gateway').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (names.length === 0) return all;
  const known = new Set(all.map((g) => g.name));
  for (const n of names) {
    if (known.has(n)) continue;
    const guess = didYouMean(n, known);
    throw new UsageError(`no Gateway named "${n}" in the repo${guess ? ` (did you mean "${guess}"?)` : known.size ? ` (there are: ${[...known].join(', ')})` : ''}`, {});
  }
  const wanted = new Set(names);
  return all.filter((g) => wanted.has(g.name));
}

export async function accessContext(repo: FleetRepo, identityFile: string | undefined, ports: Ports): Promise<AccessContext> {
  const identities = await loadIdentities({ identityFile, env: ports.env, redactor: ports.redactor });
  return { root: repo.root, identities, redactor: ports.redactor, env: ports.env };
}
