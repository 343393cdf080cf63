/**
 * The Action's process entry (bundled to actions/dist/index.js by actions/build.ts). All the work
 * is in reconciler/github/action.ts; this file only builds the process ports and sets the exit code.
 */
import { runAction } from '../../reconciler/github/action.ts';
import { snapshotProcessEnv } from '../../reconciler/cli/process-env.ts';
import { processPorts } from '../../reconciler/ports.ts';

snapshotProcessEnv();
process.exitCode = await runAction(processPorts());
