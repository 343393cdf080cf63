/**
 * Checks plain values against the generated JSON Schemas with ajv (all errors at once) and turns
 * ajv's errors into diagnostics that point at the YAML node and say how to fix it.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { TSchema } from 'typebox';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { fieldPath } from '../diagnostics/diagnostic.ts';
import { didYouMean } from '../diagnostics/did-you-mean.ts';
import type { PathSegment, SourceLocator } from './source-map.ts';

// ajv-formats ships CommonJS whose default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export function createAjv(options: { readonly strictRequired?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, discriminator: true, strict: true, strictTypes: false, allowUnionTypes: true, ...options });
  addFormats(ajv);
  return ajv;
}

export interface SchemaContext {
  readonly file: string;
  readonly resource?: string;
  readonly locator: SourceLocator;
  /** Path of the validated value inside the document (for nested checks). */
  readonly basePath?: ReadonlyArray<PathSegment>;
}

const pointerToPath = (pointer: string): PathSegment[] =>
  pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));

const typeName = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : typeof v;

const expected = (t: unknown): string => {
  const names: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false', null: 'null' };
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => names[String(x)] ?? String(x)).join(' or ');
};

const describeSchema = (s: unknown): string | undefined =>
  s && typeof s === 'object' && typeof (s as { description?: unknown }).description === 'string'
    ? (s as { description: string }).description
    : undefined;

const propertiesOf = (schema: unknown): string[] =>
  schema && typeof schema === 'object' && (schema as { properties?: object }).properties
    ? Object.keys((schema as { properties: object }).properties)
    : [];

/** Drops errors that only restate a deeper one: anyOf/oneOf/if summaries and errors inside the branches the value obviously did not take. */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const dropped = new Set<ErrorObject>();
  for (const u of unions) {
    const branches: unknown[] = Array.isArray(u.schema) ? u.schema : [];
    const inside = errors.filter((e) => e !== u && e.schemaPath.startsWith(u.schemaPath + '/'));
    // If exactly one branch has the value's JSON type, report only that branch's errors.
    const t = Array.isArray(u.data) ? 'array' : u.data === null ? 'null' : typeof u.data;
    const matching = branches
      .map((b, i) => [b as { type?: unknown }, i] as const)
      .filter(([b]) => b.type === t || (t === 'number' && b.type === 'integer') || (b.type === undefined && t === 'object'));
    if (matching.length === 1) {
      const keep = `${u.schemaPath}/${matching[0]![1]}/`;
      for (const e of inside) if (!e.schemaPath.startsWith(keep)) dropped.add(e);
      dropped.add(u);
    } else {
      for (const e of inside) dropped.add(e);
    }
  }
  return errors.filter((e) => !dropped.has(e) && e.keyword !== 'if');
}

export function schemaDiagnostics(errors: ErrorObject[] | null | undefined, ctx: SchemaContext): Diagnostic[] {
  const base = ctx.basePath ?? [];
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of relevantErrors(errors ?? [])) {
    const path = [...base, ...pointerToPath(e.instancePath)];
    let at: 'key' | 'value' = 'value';
    let field = path;
    let message: string;
    let hint: string | undefined;
    let code: Diagnostic['code'] = 'schema';
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required': {
        const missing = String(params.missingProperty);
        field = [...path, missing];
        code = 'missing-field';
        message = `missing required field "${missing}"`;
        const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
        hint = describeSchema(props?.[missing]);
        at = 'key';
        break;
      }
      case 'additionalProperties': {
        const extra = String(params.additionalProperty);
        field = [...path, extra];
        at = 'key';
        const known = propertiesOf(e.parentSchema);
        // A map with a key pattern (labels, file names) rejects the key's form, not an unknown field.
        if (!known.length && (e.parentSchema as { patternProperties?: object } | undefined)?.patternProperties) {
          message = `key ${JSON.stringify(extra)} is not in the expected form`;
          const pattern = Object.keys((e.parentSchema as { patternProperties: object }).patternProperties)[0];
          hint = describeSchema(e.parentSchema) ?? (pattern ? `keys must match ${pattern}` : undefined);
          break;
        }
        code = 'unknown-field';
        message = `unknown field "${extra}"`;
        const guess = didYouMean(extra, known);
        hint = guess ? `did you mean "${guess}"?` : known.length ? `allowed fields: ${known.join(', ')}` : 'remove it';
        break;
      }
      case 'type':
        message = `must be ${expected(params.type)}, not ${typeName(e.data)}`;
        hint = describeSchema(e.parentSchema);
        break;
      case 'enum': {
        const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
        message = `${JSON.stringify(e.data)} is not one of ${allowed.join(', ')}`;
        const guess = typeof e.data === 'string' ? didYouMean(e.data, (params.allowedValues as unknown[]).map(String)) : undefined;
        hint = guess ? `did you mean "${guess}"?` : describeSchema(e.parentSchema);
        break;
      }
      case 'const':
        message = `must be ${JSON.stringify(params.allowedValue)}, not ${JSON.stringify(e.data)}`;
        break;
      case 'pattern':
        message = `${JSON.stringify(e.data)} is not in the expected form`;
        hint = describeSchema(e.parentSchema) ?? `it must match ${String(params.pattern)}`;
        break;
      case 'propertyNames':
        continue; // reported by the nested pattern error on the name itself
      case 'format':
        message = `${JSON.stringify(e.data)} is not a valid ${String(params.format)}`;
        hint = params.format === 'date-time' ? 'use RFC 3339, e.g. 2026-12-31T23:59:59Z' : describeSchema(e.parentSchema);
        break;
      case 'minLength':
        message = Number(params.limit) === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`;
        hint = describeSchema(e.parentSchema);
        break;
      case 'minItems':
        message = `must list at least ${String(params.limit)} item${Number(params.limit) === 1 ? '' : 's'}`;
        hint = describeSchema(e.parentSchema);
        break;
      case 'minProperties':
        message = `must set at least ${String(params.limit)} field${Number(params.limit) === 1 ? '' : 's'}`;
        hint = describeSchema(e.parentSchema);
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
      case 'maxLength':
      case 'maxItems':
        message = `${JSON.stringify(e.data)}: ${e.message ?? 'out of range'}`;
        hint = describeSchema(e.parentSchema);
        break;
      case 'discriminator': {
        const tag = String(params.tag);
        const options = ((e.parentSchema as { oneOf?: Array<{ properties?: Record<string, { const?: unknown }> }> })?.oneOf ?? [])
          .map((b) => b.properties?.[tag]?.const)
          .filter((v): v is string => typeof v === 'string');
        field = [...path, tag];
        if (params.error === 'tag' && e.data && typeof e.data === 'object' && !(tag in e.data)) {
          code = 'missing-field';
          message = `missing required field "${tag}"`;
          at = 'key';
        } else {
          const value = e.data && typeof e.data === 'object' ? (e.data as Record<string, unknown>)[tag] : undefined;
          message = `${JSON.stringify(value)} is not one of ${options.map((o) => JSON.stringify(o)).join(', ')}`;
          const guess = typeof value === 'string' ? didYouMean(value, options) : undefined;
          if (guess) hint = `did you mean "${guess}"?`;
        }
        hint ??= describeSchema(e.parentSchema);
        break;
      }
      case 'anyOf':
      case 'oneOf': {
        const branches: unknown[] = Array.isArray(e.schema) ? e.schema : [];
        message = `must be ${branches.map((b) => expected((b as { type?: unknown }).type ?? 'object')).join(' or ')}, not ${typeName(e.data)}`;
        hint = describeSchema(e.parentSchema);
        break;
      }
      default:
        message = e.message ?? `fails the "${e.keyword}" check`;
        hint = describeSchema(e.parentSchema);
    }
    const { line, col } = ctx.locator.locate(field, at);
    const d: Diagnostic = {
      severity: 'error',
      code,
      file: ctx.file,
      line,
      col,
      message,
      ...(field.length ? { field: fieldPath(field) } : {}),
      ...(ctx.resource ? { resource: ctx.resource } : {}),
      ...(hint ? { hint } : {}),
    };
    const key = `${d.line}:${d.col}:${d.field}:${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

/**
 * Compiles each distinct schema once; ajv compilation is the slow part of validation. Keyed by the
 * schema's JSON, so schemas built per load (template variables) reuse their compiled form too.
 */
export class SchemaRegistry {
  private readonly ajv = createAjv();
  /** Fast path: the same schema object (every resource of a kind) costs one lookup. */
  private readonly byObject = new WeakMap<TSchema, ValidateFunction>();
  private readonly byJson = new Map<string, ValidateFunction>();

  validator(schema: TSchema): ValidateFunction {
    let v = this.byObject.get(schema);
    if (v) return v;
    const json = JSON.stringify(schema);
    v = this.byJson.get(json);
    if (!v) {
      v = this.ajv.compile(JSON.parse(json) as object);
      this.byJson.set(json, v);
    }
    this.byObject.set(schema, v);
    return v;
  }

  check(schema: TSchema, value: unknown, ctx: SchemaContext): Diagnostic[] {
    const v = this.validator(schema);
    return v(value) ? [] : schemaDiagnostics(v.errors, ctx);
  }
}
