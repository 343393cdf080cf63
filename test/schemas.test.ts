import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { KIND_NAMES } from '../reconciler/model/kinds.ts';
import { renderSchemaFiles, schemaFileName } from '../reconciler/model/schema-files.ts';
import { ROOT } from './helpers/cli.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const schemasDir = join(ROOT, 'schemas');

/** All published schemas in one ajv, addressed by file name as an editor resolves `$ref`s. */
function editorAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, discriminator: true, strict: false });
  addFormats(ajv);
  for (const f of readdirSync(schemasDir)) ajv.addSchema(JSON.parse(readFileSync(join(schemasDir, f), 'utf8')) as object, f);
  return ajv;
}

describe('published JSON Schemas', () => {
  it('are exactly what the TypeBox model generates (run `npm run schemas` after changing the model)', () => {
    const generated = renderSchemaFiles();
    expect(readdirSync(schemasDir).sort()).toEqual(generated.map(([n]) => n).sort());
    for (const [name, text] of generated) expect(readFileSync(join(schemasDir, name), 'utf8'), name).toBe(text);
  });

  it('declare draft 2020-12 and describe every kind for editors', () => {
    for (const kind of KIND_NAMES) {
      const s = JSON.parse(readFileSync(join(schemasDir, schemaFileName(kind)), 'utf8')) as { $schema: string; description?: string; properties: { spec: { description?: string } } };
      expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(s.description, kind).toMatch(/\w{4,}/);
    }
  });

  it('resource.schema.json picks the schema by kind, as an editor checking a multi-kind file would', () => {
    const validate = editorAjv().getSchema('resource.schema.json')!;
    const docs = parseAllDocuments(`
apiVersion: clawops.dev/v1
kind: Budget
metadata: { name: ok }
spec: { scope: { agents: {} }, period: month, limitUsd: 5, onBreach: { action: alert } }
---
apiVersion: clawops.dev/v1
kind: Budget
metadata: { name: bad }
spec: { scope: { agents: {} }, period: year, limitUsd: 5, onBreach: { action: alert } }
---
apiVersion: clawops.dev/v1
kind: Gateway
metadata: { name: gw }
spec: { url: ws://127.0.0.1:1, auth: { token: { secretRef: t } }, colour: red }
`);
    const results = (Array.isArray(docs) ? docs : [docs]).map((d) => validate(d.toJS()));
    expect(results).toEqual([true, false, false]);
  });
});
