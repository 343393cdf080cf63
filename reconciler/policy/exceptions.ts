/**
 * PolicyExceptions: an owned, time-limited waiver of one rule for the resources its scope selects.
 * An exception applies up to and including its `expiresAt` instant and never after; nothing rounds
 * it (the boundary is tested with a fixed clock).
 */
import type { Labels } from '../model/common.ts';
import type { ResourceOf } from '../model/kinds.ts';
import { matchesSelector } from '../model/selector.ts';

export interface ExceptionInput {
  readonly name: string;
  readonly value: ResourceOf<'PolicyException'>;
}

export interface Waiver {
  readonly rule: string;
  readonly exception: string;
  readonly owner: string;
  readonly expiresAt: string;
}

export interface ActiveExceptions {
  /** The exception that waives `rule` for a resource with these labels, if any. */
  waiver(rule: string, labels: Labels | undefined): Waiver | undefined;
}

export const isActive = (expiresAt: string, now: Date): boolean => now.getTime() <= Date.parse(expiresAt);

export function activeExceptions(exceptions: readonly ExceptionInput[], now: Date): ActiveExceptions {
  const byRule = new Map<string, ExceptionInput[]>();
  for (const e of exceptions) {
    if (!isActive(e.value.spec.expiresAt, now)) continue;
    byRule.set(e.value.spec.rule, [...(byRule.get(e.value.spec.rule) ?? []), e]);
  }
  return {
    waiver(rule, labels) {
      const e = byRule.get(rule)?.find((x) => matchesSelector(x.value.spec.scope, labels));
      return e && { rule, exception: e.name, owner: e.value.spec.owner, expiresAt: e.value.spec.expiresAt };
    },
  };
}

/** Exceptions still in force that lapse within `days` of `now`: someone must renew or retire them. */
export function expiringSoon(exceptions: readonly ExceptionInput[], now: Date, days = 7): ExceptionInput[] {
  const horizon = now.getTime() + days * 86_400_000;
  return exceptions.filter((e) => isActive(e.value.spec.expiresAt, now) && Date.parse(e.value.spec.expiresAt) <= horizon);
}
