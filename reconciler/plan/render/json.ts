/**
 * The plan as JSON (`schemas/plan.schema.json`): the same plan always gives the same bytes, so a
 * saved plan diffs cleanly and can be compared. Gateways are sorted by name and changes by agent,
 * path and action; the members of every documented object come in the schema's order, and the
 * keys of free-form values (before/after, patches) sorted. Arrays inside operations keep their
 * order: it is the order apply works in.
 */
import { Plan } from '../plan.ts';
import { compareText, sortedChanges, sortedGateways } from './order.ts';

/** The parts of a JSON Schema that decide member order. */
interface SchemaNode {
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly patternProperties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
}

const FREE_FORM: SchemaNode = {};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of `value` whose objects list their members in the order `schema` gives. */
function ordered(value: unknown, schema: SchemaNode): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v, schema.items ?? FREE_FORM));
  if (!isObject(value)) return value;
  const known = Object.keys(schema.properties ?? {}).filter((k) => Object.hasOwn(value, k));
  const rest = Object.keys(value)
    .filter((k) => !known.includes(k))
    .sort(compareText);
  const valueSchema = Object.values(schema.patternProperties ?? {})[0];
  const out: Record<string, unknown> = {};
  for (const k of [...known, ...rest]) out[k] = ordered(value[k], schema.properties?.[k] ?? valueSchema ?? FREE_FORM);
  return out;
}

export function renderPlanJson(plan: Plan): string {
  const sorted: Plan = {
    ...plan,
    gateways: sortedGateways(plan).map((g) => ({ ...g, changes: sortedChanges(g.changes) })),
  };
  return JSON.stringify(ordered(sorted, Plan as SchemaNode), null, 2) + '\n';
}
