#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm run build`, which `npm ci` runs through `prepare`).
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(`clawops needs Node.js 22 or newer; this is ${process.version}\n`);
  process.exit(1);
}
const entry = new URL('../dist/reconciler/cli/main.js', import.meta.url);
try {
  await import(entry.href);
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && e.url === entry.href) {
    process.stderr.write('clawops is not built: run `npm run build` in the clawops folder\n');
    process.exit(1);
  }
  throw e;
}
