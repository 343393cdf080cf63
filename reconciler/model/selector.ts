/** Kubernetes-style label selectors: the one place that decides whether labels match. */
import type { Labels, Selector } from './common.ts';

export function matchesSelector(selector: Selector, labels: Labels | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, req.key);
    const value = l[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

export function formatSelector(selector: Selector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) {
    parts.push(r.operator === 'Exists' ? r.key : r.operator === 'DoesNotExist' ? `!${r.key}` : `${r.key} ${r.operator.toLowerCase()} (${(r.values ?? []).join(', ')})`);
  }
  return parts.length ? parts.join(', ') : '(everything)';
}

/**
 * The gateways a resource with `gateway: <name>` or `gateways: <selector>` lands on: the one place
 * that answers it, for validation, `npm start`'s overview and (later) the planner.
 */
/** Whether an Agent's targets include this one gateway (linear in the fleet where `targetGateways(...).some(...)` is quadratic). */
export function targetsGateway(spec: { gateway?: string; gateways?: Selector }, gateway: { name: string; value: { metadata: { labels?: Labels } } }): boolean {
  if (spec.gateway !== undefined) return spec.gateway === gateway.name;
  if (spec.gateways !== undefined) return matchesSelector(spec.gateways, gateway.value.metadata.labels);
  return false;
}

export function targetGateways<G extends { name: string; value: { metadata: { labels?: Labels } } }>(
  spec: { gateway?: string; gateways?: Selector },
  gateways: readonly G[],
): G[] {
  if (spec.gateway !== undefined) return gateways.filter((g) => g.name === spec.gateway);
  if (spec.gateways !== undefined) return gateways.filter((g) => matchesSelector(spec.gateways!, g.value.metadata.labels));
  return [];
}
