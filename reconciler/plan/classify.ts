/**
 * What kind of change a path is, and how risky by default. The policy engine replaces the risk
 * table with rules; the categories stay (DESIGN §3).
 */
import type { Risk } from '../model/common.ts';
import type { Action, Category } from './plan.ts';

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

/** The default table (DESIGN §4's baseline in miniature): loosening a guard is critical. */
export function defaultRisk(section: Section, path: readonly string[], action: Action, after: unknown, secret: boolean): Risk {
  if (secret) return 'critical';
  if (section === 'agent') return 'high';
  if (section === 'exec') {
    const key = path[0];
    if (key === 'security' && after === 'full') return 'critical';
    if (key === 'ask' && after === 'off') return 'critical';
    if (key === 'autoAllowSkills' && after === true) return 'critical';
    return key === 'allowlist' ? (action === 'delete' ? 'low' : 'medium') : 'high';
  }
  if (section !== 'config') return 'medium';
  const [head, next] = path;
  if (head === 'sandbox') return sandboxLoosened(path, after, action) ? 'critical' : 'high';
  if (head === 'tools' && next === 'elevated') return 'critical';
  switch (categoryOf('config', path)) {
    case 'identity':
      return 'low';
    case 'model':
    case 'tools':
      return 'high';
    case 'skills':
    case 'channels':
      return 'medium';
    default:
      return 'medium';
  }
}

function sandboxLoosened(path: readonly string[], after: unknown, action: Action): boolean {
  if (action === 'delete') return true;
  const mode = path[1] === 'mode' ? after : path.length === 1 && after && typeof after === 'object' ? (after as { mode?: unknown }).mode : undefined;
  const access = path[1] === 'workspaceAccess' ? after : path.length === 1 && after && typeof after === 'object' ? (after as { workspaceAccess?: unknown }).workspaceAccess : undefined;
  return mode === 'off' || access === 'rw';
}
