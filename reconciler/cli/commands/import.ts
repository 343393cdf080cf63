/** Placeholder: being written. */
import type { Command, Option } from 'commander';
import type { CommandContext } from '../program.ts';

export function registerImport(_program: Command, _ctx: CommandContext, _repoOption: () => Option, _jsonOption: () => Option): void {}
