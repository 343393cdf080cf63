/** Process entry of the `clawops` binary: the only place that reads process state and sets the exit code. */
import { processPorts } from '../ports.ts';
import { snapshotProcessEnv } from './process-env.ts';
import { runCli } from './program.ts';

snapshotProcessEnv();
const ports = processPorts();
process.exitCode = await runCli(process.argv.slice(2), ports);
