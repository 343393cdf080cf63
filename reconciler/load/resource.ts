/** A resource as loaded from the repo: its validated value and where it came from. */
import type { KindName, ResourceOf } from '../model/kinds.ts';
import type { SourceLocator } from './source-map.ts';

export interface LoadedOf<K extends KindName> {
  readonly kind: K;
  readonly name: string;
  readonly value: ResourceOf<K>;
  /** Repo-relative path of the file. */
  readonly file: string;
  readonly documentIndex: number;
  readonly line: number;
  readonly locator: SourceLocator;
}

export type LoadedResource = { [K in KindName]: LoadedOf<K> }[KindName];

export const resourceId = (r: { kind: string; name: string }): string => `${r.kind}/${r.name}`;

export function ofKind<K extends KindName>(resources: readonly LoadedResource[], kind: K): Array<LoadedOf<K>> {
  return resources.filter((r): r is LoadedOf<K> & LoadedResource => r.kind === kind) as Array<LoadedOf<K>>;
}

/**
 * A resource of a known kind that failed its schema. Cross-resource checks still see its name and
 * labels, so one broken Gateway does not also make every Agent that targets it "dangling".
 */
export interface BrokenResource {
  readonly kind: KindName;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}
