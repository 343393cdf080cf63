/**
 * Checks a value `import` built against clawops' own model, with the same ajv setup the loader
 * uses, so that whatever import writes is known to validate (or is reported as not fitting).
 */
import type { TSchema } from 'typebox';
import { SchemaRegistry } from '../load/schema-validator.ts';

const registry = new SchemaRegistry();

/** Why `value` does not fit `schema` (the first few problems, one line), or undefined if it fits. */
export function modelProblem(schema: TSchema, value: unknown): string | undefined {
  const validate = registry.validator(schema);
  if (validate(value)) return undefined;
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if' && e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const shown = (errors.length ? errors : (validate.errors ?? [])).slice(0, 3).map((e) => {
    const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top)';
    const extra = e.keyword === 'additionalProperties' ? ` "${String((e.params as { additionalProperty?: unknown }).additionalProperty)}"` : '';
    return `${where}: ${e.message ?? e.keyword}${extra}`;
  });
  return shown.join('; ') || 'does not fit the model';
}
