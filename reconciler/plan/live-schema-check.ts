/**
 * Desired agent configs checked against the live gateway's own `config.schema` (DESIGN §2): our
 * schema closes only the top of an agent entry, the gateway knows every key of its version. A typo
 * deep in a tool setting fails the plan, pointing at the YAML, instead of failing the write.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConfigSchema, JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import type { DesiredGateway } from '../desired/effective-state.ts';
import { didYouMean } from '../diagnostics/did-you-mean.ts';
import { getPath, isObject, mapSecretRefs } from './json-paths.ts';
import type { PlanError } from './plan.ts';

const compiled = new WeakMap<ConfigSchema, ValidateFunction | null>();

/** The validator of one `agents.entries.<id>` value, compiled once per schema (i.e. per gateway build). */
function entryValidator(schema: ConfigSchema): ValidateFunction | null {
  if (compiled.has(schema)) return compiled.get(schema)!;
  const entry = getPath(schema.schema, ['properties', 'agents', 'properties', 'entries', 'additionalProperties']);
  // A gateway whose schema does not describe entries this way is checked by its writes alone.
  const v = isObject(entry) ? new Ajv({ allErrors: true, strict: false, validateFormats: false, verbose: true }).compile(entry) : null;
  compiled.set(schema, v);
  return v;
}

export function checkAgainstLiveSchema(desired: DesiredGateway, schema: ConfigSchema): PlanError[] {
  const validate = entryValidator(schema);
  if (!validate) return [];
  const errors: PlanError[] = [];
  for (const agent of desired.agents.values()) {
    // A secret's value is a string on the gateway; what it is does not matter to the shape.
    const value = mapSecretRefs(agent.config, () => 'secret');
    if (validate(value)) continue;
    for (const e of validate.errors ?? []) {
      const path = pointerToPath(e.instancePath);
      const key = e.keyword === 'additionalProperties' ? String((e.params as { additionalProperty: string }).additionalProperty) : undefined;
      const at = agent.resource.locator.locate(['spec', 'config', ...path, ...(key ? [key] : [])], key ? 'key' : 'value');
      const field = ['spec', 'config', ...path, ...(key ? [key] : [])].join('.');
      errors.push({
        kind: 'invalid-config',
        message: `Agent/${agent.resource.name} ${field}: ${describe(e, key)} (OpenClaw ${schema.version} on ${desired.gateway.name})`,
        source: { file: agent.resource.file, line: at.line, col: at.col },
      });
    }
  }
  return errors;
}

function describe(e: ErrorObject, key: string | undefined): string {
  if (key !== undefined) {
    const known = Object.keys((e.parentSchema as { properties?: JsonObject } | undefined)?.properties ?? {});
    const guess = didYouMean(key, known);
    return `unknown key "${key}" for this gateway${guess ? ` (did you mean "${guess}"?)` : ''}`;
  }
  if (e.keyword === 'enum') return `${e.message ?? 'invalid'}: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
  return e.message ?? 'invalid';
}

function pointerToPath(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}
