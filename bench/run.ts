/**
 * Runs every `bench/*.bench.ts` one after the other, each in a fresh Node process (so peak RSS
 * is per benchmark), prints the results, and exits 1 if a benchmark threw. A missed target is
 * reported (MISSED in the table, a warning at the end) but does not fail the run: timings depend
 * on the machine.
 *
 *   npm run bench                 all benchmarks
 *   node bench/run.ts validate    only those whose file name contains "validate"
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, isBenchResult, metFor, type BenchResult } from './report.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** In the child: import one bench file, run it, hand the result to the parent. */
async function child(file: string): Promise<void> {
  const mod = (await import(pathToFileURL(file).href)) as { run?: unknown };
  if (typeof mod.run !== 'function') throw new Error(`${basename(file)} does not export a run() function`);
  const result: unknown = await (mod.run as () => Promise<unknown>)();
  if (!isBenchResult(result)) throw new Error(`${basename(file)}: run() did not return a BenchResult`);
  await new Promise<void>((done, fail) => process.send!(result, (e: Error | null) => (e ? fail(e) : done())));
}

function runInChild(file: string): Promise<{ code: number; result: BenchResult | undefined }> {
  return new Promise((done, fail) => {
    let result: BenchResult | undefined;
    const p = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    p.on('message', (m) => {
      if (isBenchResult(m)) result = m;
    });
    p.on('error', fail);
    p.on('exit', (code, signal) => done({ code: code ?? (signal ? 1 : 0), result }));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--child') {
    if (!process.send) throw new Error('--child needs an IPC channel; run `node bench/run.ts` instead');
    await child(argv[1]!);
    return 0;
  }
  const filter = argv[0];
  const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter))).sort();
  if (!files.length) {
    console.error(`no bench/*.bench.ts${filter ? ` matching "${filter}"` : ''}`);
    return 1;
  }
  const results: BenchResult[] = [];
  const failed: string[] = [];
  const missedTargets: string[] = [];
  for (const f of files) {
    console.log(`\n▶ ${f}`);
    const { code, result } = await runInChild(join(here, f));
    if (code !== 0 || !result) failed.push(`${f} (exit ${code})`);
    else {
      results.push(result);
      const missed = result.metrics.filter((m) => !metFor(m));
      if (missed.length) missedTargets.push(`${f}: missed ${missed.map((m) => `${m.label} ${m.value} ${m.unit} > ${m.max} ${m.unit}`).join(', ')}`);
    }
  }
  console.log(`\n── summary (${results.length}/${files.length} ran) ──`);
  for (const r of results) console.log(formatTable(r));
  if (missedTargets.length) console.error(`\nmissed target(s):\n  ${missedTargets.join('\n  ')}`);
  if (failed.length) {
    console.error(`\n${failed.length} benchmark(s) failed:\n  ${failed.join('\n  ')}`);
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
