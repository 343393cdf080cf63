/**
 * Bundles the Action to one ESM file, actions/dist/index.js: the runner executes the file at the
 * action's ref and never runs `npm install`, so the bundle is committed. A test rebuilds it in
 * memory and fails when the committed file differs, so it never goes stale.
 *
 * esbuild, not ncc or rollup's TypeScript plugin: those break with current TypeScript, and
 * esbuild strips types the same way Node does (research/git-github.md §5). The bundle finds
 * clawops' schemas/ and policies/ next to it at run time (reconciler/package-root.ts), which is
 * why the Action lives in this repository.
 */
import { build, type BuildOptions } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BUNDLE = join(here, 'dist', 'index.js');

export const OPTIONS: BuildOptions = {
  entryPoints: [join(here, 'src', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  charset: 'utf8',
  // Some dependencies are CommonJS and call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __clawopsRequire } from 'node:module'; const require = __clawopsRequire(import.meta.url);" },
  // Paths relative to the repo, so the output is the same on every machine.
  absWorkingDir: join(here, '..'),
  logLevel: 'silent',
};

export async function bundleText(): Promise<string> {
  const result = await build({ ...OPTIONS, write: false });
  return result.outputFiles![0]!.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await bundleText();
  mkdirSync(dirname(BUNDLE), { recursive: true });
  writeFileSync(BUNDLE, text);
  console.log(`actions/dist/index.js: ${(text.length / 1024).toFixed(0)} KB`);
}
