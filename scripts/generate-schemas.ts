/**
 * Writes `schemas/*.schema.json` from the TypeBox definitions in reconciler/model. The committed
 * files are what editors and other tools read; a test fails when they differ from this output.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSchemaFiles } from '../reconciler/model/schema-files.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'schemas'), { recursive: true });
for (const [name, text] of renderSchemaFiles()) {
  writeFileSync(join(root, 'schemas', name), text);
  console.log(`schemas/${name}`);
}
