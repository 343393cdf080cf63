#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm run build`, which `npm ci` runs through `prepare`).
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(`clawops needs Node.js 22 or newer; this is ${process.version}\n`);
  process.exit(1);
}
await import('../dist/reconciler/cli/main.js');
