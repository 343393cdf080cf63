/**
 * A small slice of the gateway's config JSON Schema (the real one is ~2 MB): strict where
 * clawops writes (agent entries, their tools), open elsewhere. One copy serves every simulated
 * gateway. The validator understands just the keywords used here and words its issues like the
 * gateway (`agents.entries.x: Unrecognized key: "notAKey"`).
 */
import { isPlainObject, type Json, type JsonRecord } from './json.ts';

type ReloadKind = 'restart' | 'hot' | 'none';
interface Node {
  readonly type?: 'object' | 'array' | 'string' | 'boolean' | 'number';
  readonly properties?: Readonly<Record<string, Node>>;
  /** `false`: unknown keys are refused; a node: the shape of every value (map objects). */
  readonly additionalProperties?: boolean | Node;
  readonly items?: Node;
  readonly enum?: readonly string[];
  readonly reloadKind?: ReloadKind;
}

const open: Node = {};
const strings: Node = { type: 'array', items: { type: 'string' } };

const tools: Node = {
  type: 'object',
  additionalProperties: false,
  properties: {
    profile: { type: 'string', enum: ['minimal', 'coding', 'messaging', 'full'] },
    allow: strings,
    alsoAllow: strings,
    deny: strings,
    byProvider: open,
    elevated: open,
    exec: open,
    fs: open,
    web: open,
    sandbox: open,
  },
};

const agentEntry: Node = {
  type: 'object',
  additionalProperties: false,
  reloadKind: 'hot',
  properties: {
    name: { type: 'string' },
    default: { type: 'boolean' },
    workspace: { type: 'string' },
    agentDir: { type: 'string' },
    model: open,
    identity: open,
    tools,
    skills: strings,
    sandbox: open,
    heartbeat: open,
    subagents: open,
    groupChat: open,
    humanDelay: open,
    memorySearch: open,
    params: open,
    runtime: open,
    thinkingDefault: { type: 'string' },
  },
};

const TOP_LEVEL = [
  'meta env wizard diagnostics logging update telemetry browser ui secrets auth accessGroups acp models nodeHost',
  'worktreeRoot worktreeAcceleration tools security broadcast attachments messages tts commands session cron',
  'transcripts hooks channels discovery talk cloudWorkers desktop memory mcp skills plugins surfaces proxy',
]
  .join(' ')
  .split(' ');

export const CONFIG_SCHEMA: Node = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...Object.fromEntries(TOP_LEVEL.map((k) => [k, open])),
    agents: {
      type: 'object',
      reloadKind: 'none',
      properties: {
        ownership: { type: 'string', enum: ['sole', 'explicit'] },
        defaults: { type: 'object', reloadKind: 'hot' },
        entries: { type: 'object', additionalProperties: agentEntry },
      },
    },
    bindings: { type: 'array', reloadKind: 'none', items: { type: 'object', properties: { agentId: { type: 'string' }, match: open } } },
    approvals: { type: 'object', reloadKind: 'restart', properties: { exec: { type: 'object', reloadKind: 'hot' } } },
    gateway: { type: 'object', reloadKind: 'restart' },
  },
};

export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

export function validateConfig(doc: JsonRecord): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  check(CONFIG_SCHEMA, doc, '', issues);
  const agents = isPlainObject(doc.agents) ? doc.agents : {};
  const entries = isPlainObject(agents.entries) ? agents.entries : {};
  if (Object.keys(entries).length > 1 && agents.ownership !== 'explicit') {
    issues.push({ path: 'agents.ownership', message: 'multi-agent rosters require agents.ownership="explicit"' });
  }
  return issues;
}

function check(node: Node, v: Json, path: string, issues: SchemaIssue[]): void {
  const at = path || '<root>';
  if (node.type && typeOf(v) !== node.type) return void issues.push({ path: at, message: `Expected ${node.type}, received ${typeOf(v)}` });
  if (node.enum && !node.enum.includes(v as string)) return void issues.push({ path: at, message: `Invalid option: expected one of ${node.enum.map((e) => `"${e}"`).join('|')}` });
  if (Array.isArray(v) && node.items) v.forEach((x, i) => check(node.items as Node, x, `${path}.${i}`, issues));
  if (!isPlainObject(v)) return;
  const unknown: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    const child = node.properties?.[k] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
    if (child) check(child, x, path ? `${path}.${k}` : k, issues);
    else if (node.additionalProperties === false) unknown.push(k);
  }
  if (unknown.length) issues.push({ path: at, message: `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => `"${k}"`).join(', ')}` });
}

function typeOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;
}

/** `config.schema.lookup`: the node at a dotted path (`*` for a map's values) and its children. */
export function lookupSchema(path: string) {
  let node: Node | undefined = CONFIG_SCHEMA;
  let reloadKind: ReloadKind = 'none';
  for (const seg of path.split('.').filter(Boolean)) {
    node = node?.properties?.[seg] ?? (seg === '*' && typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined);
    if (!node) return undefined;
    if (node.reloadKind) reloadKind = node.reloadKind;
  }
  const here = node;
  const children = Object.entries(here.properties ?? {}).map(([key, child]) => ({
    key,
    path: path ? `${path}.${key}` : key,
    ...(child.type ? { type: child.type } : {}),
    required: false,
    hasChildren: Boolean(child.properties || typeof child.additionalProperties === 'object'),
    reloadKind: child.reloadKind ?? reloadKind,
  }));
  return { path, schema: shallow(here), reloadKind, children };
}

function shallow(node: Node): JsonRecord {
  const out: JsonRecord = {};
  if (node.type) out.type = node.type;
  if (node.enum) out.enum = [...node.enum];
  if (node.additionalProperties === false) out.additionalProperties = false;
  return out;
}

/** The whole schema as plain JSON Schema, for `config.schema`. */
export function schemaDocument(node: Node = CONFIG_SCHEMA): JsonRecord {
  const out = shallow(node);
  if (node.properties) out.properties = Object.fromEntries(Object.entries(node.properties).map(([k, n]) => [k, schemaDocument(n)]));
  if (typeof node.additionalProperties === 'object') out.additionalProperties = schemaDocument(node.additionalProperties);
  if (node.items) out.items = schemaDocument(node.items);
  return out;
}
