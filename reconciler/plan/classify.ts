/**
 * What kind of change a path is (DESIGN §3's categories). How risky it is, and whether it may be
 * applied, is policy's to say (reconciler/policy/).
 */
import type { Category } from './plan.ts';

const CONFIG_CATEGORY: Readonly<Record<string, Category>> = {
  name: 'identity',
  description: 'identity',
  identity: 'identity',
  workspace: 'identity',
  cwd: 'identity',
  agentDir: 'identity',
  model: 'model',
  utilityModel: 'model',
  decisionModel: 'model',
  models: 'model',
  modelPolicy: 'model',
  thinkingDefault: 'model',
  reasoningDefault: 'model',
  fastModeDefault: 'model',
  params: 'model',
  tools: 'tools',
  subagents: 'tools',
  skills: 'skills',
  skillsLimits: 'skills',
  sandbox: 'sandbox',
  groupChat: 'channels',
  typingMode: 'channels',
  humanDelay: 'channels',
};

export type Section = 'agent' | 'config' | 'bindings' | 'cron' | 'files' | 'exec';

export function categoryOf(section: Section, path: readonly string[]): Category {
  switch (section) {
    case 'config':
      return CONFIG_CATEGORY[path[0] ?? ''] ?? 'other';
    case 'bindings':
      return 'bindings';
    case 'cron':
      return 'cron';
    case 'files':
      return 'files';
    case 'exec':
      return 'approvals';
    case 'agent':
      return 'identity';
  }
}
