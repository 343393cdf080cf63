/**
 * The JSON Schema documents published in `schemas/`: one per kind, `clawops.schema.json` for the
 * repo settings, and `resource.schema.json`, which dispatches on `kind` so that an editor can check
 * a file holding several kinds.
 */
import { KIND_NAMES, KINDS } from './kinds.ts';
import { RepositoryConfig } from './repository.ts';
import { ValidateReport } from '../diagnostics/report.ts';
import { StatusReport } from '../status/report.ts';
import { Plan } from '../plan/plan.ts';

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

export const schemaFileName = (kind: string): string => `${kind.toLowerCase()}.schema.json`;

/** A plain JSON copy: TypeBox marks its schemas with symbols that must not reach the files. */
const plain = (schema: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;

export function resourceSchema(): Record<string, unknown> {
  return {
    $schema: DRAFT,
    title: 'clawops resource',
    description: 'Any clawops resource; the `kind` field selects the schema.',
    type: 'object',
    required: ['apiVersion', 'kind'],
    properties: { kind: { enum: KIND_NAMES } },
    allOf: KIND_NAMES.map((kind) => ({
      if: { properties: { kind: { const: kind } }, required: ['kind'] },
      then: { $ref: schemaFileName(kind) },
    })),
  };
}

export function renderSchemaFiles(): Array<[string, string]> {
  const files: Array<[string, string]> = KIND_NAMES.map((kind) => [
    schemaFileName(kind),
    { $schema: DRAFT, title: kind, ...plain(KINDS[kind]) },
  ]).map(([n, s]) => [n as string, JSON.stringify(s, null, 2) + '\n']);
  files.push(['clawops.schema.json', JSON.stringify({ $schema: DRAFT, title: 'clawops.yaml', ...plain(RepositoryConfig) }, null, 2) + '\n']);
  files.push(['validate-output.schema.json', JSON.stringify({ $schema: DRAFT, title: 'clawops validate --json', ...plain(ValidateReport) }, null, 2) + '\n']);
  files.push(['status-output.schema.json', JSON.stringify({ $schema: DRAFT, title: 'clawops status --json', ...plain(StatusReport) }, null, 2) + '\n']);
  files.push(['plan.schema.json', JSON.stringify({ $schema: DRAFT, title: 'clawops plan', ...plain(Plan) }, null, 2) + '\n']);
  files.push(['resource.schema.json', JSON.stringify(resourceSchema(), null, 2) + '\n']);
  return files;
}
