/**
 * The plan renderers against goldens (`UPDATE_GOLDEN=1 npx vitest run test/plan-render.test.ts`
 * rewrites them), plus the properties a golden cannot show: the JSON meets its published schema,
 * the Markdown is well formed to a real parser and stays within GitHub's comment size for a large
 * fleet, colour only when asked, secrets never shown, and hostile strings stay inert.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { marked, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';
import type { Change, GatewayPlan, Plan } from '../reconciler/plan/plan.ts';
import { renderPlanJson } from '../reconciler/plan/render/json.ts';
import { renderPlanMarkdown } from '../reconciler/plan/render/markdown.ts';
import { renderPlanText } from '../reconciler/plan/render/text.ts';
import { planFixture } from './fixtures/plan-fixture.ts';
import { ROOT } from './helpers/cli.ts';

const GOLDEN_DIR = join(ROOT, 'test', 'golden', 'plan');

function expectGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`missing golden ${name}: run UPDATE_GOLDEN=1 npx vitest run test/plan-render.test.ts`);
  }
  expect(actual, `${name} differs from its golden (UPDATE_GOLDEN=1 rewrites it after a deliberate change)`).toBe(expected);
}

// ---- plans ----

const noOperations = (): GatewayPlan['operations'] => ({ deleteAgents: [], cronUpserts: [], cronRemovals: [], files: [] });
const emptySummary = (): Plan['summary'] => ({
  gateways: 0,
  gatewaysWithChanges: 0,
  gatewaysWithErrors: 0,
  create: 0,
  update: 0,
  delete: 0,
  needApproval: 0,
  denied: 0,
  byRisk: { low: 0, medium: 0, high: 0, critical: 0 },
});

/** `gateways` gateways with `perGateway` changes each, every action and risk represented. */
function largePlan(gateways: number, perGateway: number): Plan {
  const ACTIONS = ['create', 'update', 'delete'] as const;
  const RISKS = ['low', 'medium', 'high', 'critical'] as const;
  return {
    formatVersion: 1,
    createdAt: '2026-11-20T09:30:00.000Z',
    notes: [],
    summary: emptySummary(),
    gateways: Array.from({ length: gateways }, (_, i): GatewayPlan => {
      const gateway = `gw-${String(i).padStart(4, '0')}`;
      const changes = Array.from({ length: perGateway }, (_, j): Change => {
        const action = ACTIONS[j % 3] ?? 'update';
        return {
          gateway,
          agentId: `agent-${j % 5}`,
          resource: `Agent/agent-${j % 5}`,
          action,
          category: 'tools',
          risk: RISKS[j % 4] ?? 'low',
          verdict:
            j % 7 === 0
              ? { effect: 'require-approval', rules: [{ rule: 'baseline/tool-posture', effect: 'require-approval', risk: 'high', message: 'Tools change.' }], approvals: [{ rule: 'baseline/tool-posture', count: 1, teams: ['security'] }] }
              : { effect: 'allow', rules: [], approvals: [] },
          path: `spec.config.tools.setting${j}`,
          ...(action !== 'create' ? { before: { enabled: false, level: j } } : {}),
          ...(action !== 'delete' ? { after: { enabled: true, level: j + 1 } } : {}),
          source: { file: `agents/agent-${j % 5}.yaml`, line: j + 1, col: 3 },
        };
      });
      return { gateway, url: `wss://${gateway}.fleet.example`, status: 'ok', errors: [], notes: [], changes, operations: noOperations() };
    }),
  };
}

/** Strings chosen to break out of every context the renderers write into. */
function hostilePlan(): Plan {
  const gateway = 'edge|lab`s';
  const change: Change = {
    gateway,
    agentId: 'ops`bot',
    resource: 'Agent/ops|bot <b>',
    action: 'update',
    category: 'other',
    risk: 'high',
    verdict: {
      effect: 'deny',
      rules: [{ rule: 'acme|x/no-`notes`', effect: 'deny', risk: 'high', message: '</details><script>alert(2)</script>\u001b[2J' }],
      approvals: [{ rule: 'acme|x/no-`notes`', count: 1, teams: ['sec</details>'] }],
    },
    path: 'spec.config.notes\u202e',
    before: 'plain',
    after: '````\n</details>\n<script>alert(1)</script> @acme/security #12 \u001b[2J',
    source: { file: 'agents/ops|bot.yaml', line: 3, col: 1 },
  };
  return {
    formatVersion: 1,
    createdAt: '2026-11-20T09:30:00.000Z',
    notes: [],
    summary: emptySummary(),
    gateways: [
      {
        gateway,
        url: 'wss://edge.example/<x>',
        status: 'ok',
        errors: [],
        notes: [{ level: 'warning', message: 'ask @acme/security about #7 </details> <img src=x onerror=alert(1)> `x`\nsecond \u001b[31mline' }],
        changes: [
          change,
          { ...change, path: 'spec.config.tools', before: { 'key\u001b[2J': 1, nested: { x: 1 } }, after: { 'key\u001b[2J': 2, nested: { x: 2 } } },
        ],
        operations: noOperations(),
      },
      {
        gateway: 'down',
        url: 'ws://10.0.0.1:1',
        status: 'error',
        errors: [{ kind: 'auth|<i>', message: '</summary></details>```' }],
        notes: [],
        changes: [],
        operations: noOperations(),
      },
    ],
  };
}

/** The same plan listed in another order, object keys included: renderers must not care. */
function shuffled(plan: Plan): Plan {
  const reverseKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reverseKeys);
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reverseKeys(x)]),
    );
  };
  const gateways = [...plan.gateways].reverse().map((g) => ({ ...g, changes: [...g.changes].reverse() }));
  return reverseKeys({ ...plan, gateways }) as Plan;
}

const secretValues = (plan: Plan): string[] =>
  plan.gateways.flatMap((g) => g.changes.filter((c) => c.secret).flatMap((c) => [c.before, c.after].filter((v): v is string => typeof v === 'string')));

// ---- Markdown, through the parser ----

function walk(tokens: readonly Token[], visit: (t: Token) => void): void {
  for (const t of tokens) {
    visit(t);
    if (t.type === 'table') {
      const table = t as Tokens.Table;
      for (const cell of [...table.header, ...table.rows.flat()]) walk(cell.tokens, visit);
    }
    if (t.type === 'list') walk((t as Tokens.List).items, visit);
    if ('tokens' in t && Array.isArray(t.tokens)) walk(t.tokens, visit);
  }
}

interface MarkdownShape {
  readonly tokens: Token[];
  /** Gateways whose section is present, from the `<summary>` lines. */
  readonly sections: number;
  readonly table: Tokens.Table;
}

/**
 * Parses `md` and checks it is well formed: `<details>` open and close in top-level HTML blocks,
 * never nested or left open; every fence is closed; the only HTML is the renderer's own.
 */
function parseMarkdown(md: string): MarkdownShape {
  const tokens = marked.lexer(md);
  let depth = 0;
  let sections = 0;
  for (const t of tokens) {
    if (t.type !== 'html') continue;
    const html = (t as Tokens.HTML).raw.trim();
    if (html === '</details>') {
      depth -= 1;
      expect(depth, 'a </details> without its <details>').toBe(0);
    } else {
      expect(html, 'a top-level HTML block that is not a section opening').toMatch(/^<details( open)?>\n<summary><code>[^\n<]*<\/code>[^\n]*<\/summary>$/);
      expect(depth, 'nested <details>').toBe(0);
      depth += 1;
      sections += 1;
    }
  }
  expect(depth, 'a <details> left open').toBe(0);

  walk(tokens, (t) => {
    if (t.type === 'code') {
      const code = t as Tokens.Code;
      const lines = code.raw.trimEnd().split('\n');
      const opening = /^(`{3,})/.exec(lines[0] ?? '')?.[1];
      expect(opening, 'code blocks are fenced').toBeDefined();
      expect(lines.length, 'a fence with no closing line').toBeGreaterThan(1);
      expect(lines.at(-1), 'a fence closed by something else than its own fence').toBe(opening);
      expect(code.lang).toBe('diff');
      for (const line of code.text.split('\n')) expect(line, 'a diff line without its sign').toMatch(/^[+~ -] /);
    }
    // Inline HTML only where the renderer writes it (<b>critical</b> in a summary is block HTML).
    if (t.type === 'html' && !(t as Tokens.HTML).block) throw new Error(`inline HTML in the comment: ${t.raw}`);
  });

  const tables = tokens.filter((t): t is Tokens.Table => t.type === 'table');
  expect(tables).toHaveLength(1);
  const table = tables[0]!;
  expect(table.header.map((c) => c.text)).toEqual(['Gateway', 'Changes', 'Create / update / delete', 'Highest risk', 'Status']);
  for (const r of table.rows) expect(r).toHaveLength(5);
  return { tokens, sections, table };
}

const NOTE = /… (\d+) more gateways? \((\d+) changes?\) not shown: the full plan is in the job's artifact, or run `clawops plan`\.\n$/;

// ---- tests ----

describe('plan renderers on the fixture plan', () => {
  const plan = planFixture();

  it('text matches its golden, without colour', () => {
    expectGolden('fixture.txt', renderPlanText(plan, { color: false }));
  });

  it('Markdown matches its golden', () => {
    expectGolden('fixture.md', renderPlanMarkdown(plan));
  });

  it('JSON matches its golden', () => {
    expectGolden('fixture.json', renderPlanJson(plan));
  });

  it('all three are the same whatever order the plan lists things in', () => {
    const other = shuffled(plan);
    expect(renderPlanText(other, { color: true })).toBe(renderPlanText(plan, { color: true }));
    expect(renderPlanMarkdown(other)).toBe(renderPlanMarkdown(plan));
    expect(renderPlanJson(other)).toBe(renderPlanJson(plan));
  });

  it('JSON validates against schemas/plan.schema.json and keeps every fact of the plan', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'plan.schema.json'), 'utf8')) as object;
    const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
    const json = renderPlanJson(plan);
    const parsed = JSON.parse(json) as Plan;
    expect(validate(parsed), JSON.stringify(validate.errors)).toBe(true);
    expect(json.endsWith('}\n')).toBe(true);
    expect(json).toContain('\n  "gateways": [\n    {\n      "gateway": ');

    // Same content: only the order differs.
    const byName = (gs: GatewayPlan[]) => Object.fromEntries(gs.map((g) => [g.gateway, { ...g, changes: new Set(g.changes.map((c) => JSON.stringify(c, Object.keys(c).sort()))) }]));
    expect(byName(parsed.gateways)).toEqual(byName(plan.gateways));
    expect(parsed.gateways.map((g) => g.gateway)).toEqual([...plan.gateways.map((g) => g.gateway)].sort());
  });

  it('Markdown is well formed: sections closed, fences closed, one table row per gateway', () => {
    const { sections, table } = parseMarkdown(renderPlanMarkdown(plan));
    expect(table.rows).toHaveLength(plan.gateways.length);
    expect(sections).toBe(plan.gateways.filter((g) => g.status === 'error' || g.changes.length || g.notes.length).length);
  });

  it('text has ANSI colour only when asked', () => {
    const plain = renderPlanText(plan, { color: false });
    const coloured = renderPlanText(plan, { color: true });
    expect(plain).not.toContain('\x1b');
    expect(coloured).toContain('\x1b[32m+ '); // create, green
    expect(coloured).toContain('\x1b[33m~ '); // update, yellow
    expect(coloured).toContain('\x1b[31m- '); // delete, red
    expect(coloured).toContain('\x1b[1m[critical]\x1b[0m');
    // Colour adds escapes and nothing else.
    expect(coloured.replace(/\x1b\[[\d;]*m/g, '')).toBe(plain);
  });

  it('secret changes are shown as changed, never by value, and the JSON carries only their keyed hashes', () => {
    const secrets = plan.gateways.flatMap((g) => g.changes.filter((c) => c.secret));
    expect(secrets.length).toBeGreaterThan(0);
    for (const c of secrets) for (const v of [c.before, c.after]) if (v !== undefined) expect(v).toMatch(/^hmac:[0-9a-f]+$/);
    const values = secretValues(plan);
    for (const out of [renderPlanText(plan, { color: false }), renderPlanText(plan, { color: true }), renderPlanMarkdown(plan)]) {
      for (const v of values) expect(out).not.toContain(v);
      for (const v of values) expect(out).not.toContain(v.slice('hmac:'.length, 'hmac:'.length + 8));
      expect(out).toContain('(secret changed)');
    }
    const json = JSON.parse(renderPlanJson(plan)) as Plan;
    for (const c of json.gateways.flatMap((g) => g.changes.filter((x) => x.secret))) {
      for (const v of [c.before, c.after]) if (v !== undefined) expect(v).toMatch(/^hmac:[0-9a-f]+$/);
    }
  });

  it('summary sentences: changes, no changes, and gateways that could not be planned', () => {
    expect(renderPlanText(plan, { color: false })).toMatch(/\nPlan: 4 to create, 7 to update, 1 to delete on 1 of 3 gateways \(1 unreachable\)\. Policy: 4 need approval, 1 denied\.\n$/);
    const calm: Plan = { ...plan, gateways: plan.gateways.map((g) => ({ ...g, status: 'ok' as const, errors: [], notes: [], changes: [] })) };
    expect(renderPlanText(calm, { color: false })).toBe('No changes on edge-lab, prod-eu, prod-us.\n\nNo changes. Live matches git on 3 gateways.\n');
    const down: Plan = { ...plan, gateways: plan.gateways.map((g) => (g.status === 'error' ? g : { ...g, notes: [], changes: [] })) };
    expect(renderPlanText(down, { color: false })).toMatch(/\nNo changes\. Live matches git on 2 of 3 gateways \(1 unreachable\)\.\n$/);
    expect(renderPlanMarkdown(calm)).toContain('**No changes. Live matches git on 3 gateways.**');
  });
});

describe('Markdown size budget', () => {
  it('a 1,000-gateway × 20-change plan fits in 60,000 characters and says exactly what it left out', () => {
    const plan = largePlan(1000, 20);
    const md = renderPlanMarkdown(plan);
    expect(md.length).toBeLessThanOrEqual(60_000);
    const { sections, table } = parseMarkdown(md);
    expect(sections).toBeGreaterThan(0);
    const note = NOTE.exec(md);
    expect(note, 'the closing note').not.toBeNull();
    expect(Number(note![1])).toBe(1000 - sections);
    expect(Number(note![2])).toBe((1000 - sections) * 20);

    // The table keeps its head rows and folds the rest into one row with exact totals.
    const last = table.rows.at(-1)!;
    const listed = table.rows.length - 1;
    expect(last[0]!.text).toBe(`… ${1000 - listed} more gateways`);
    expect(last[1]!.text).toBe(String((1000 - listed) * 20));
    expect(table.rows.slice(0, -1).map((r) => r[0]!.tokens[0]?.type)).toEqual(Array(listed).fill('codespan'));
    // The totals at the top are for the whole fleet, shown or not.
    expect(md).toContain('**Plan: 7000 to create, 7000 to update, 6000 to delete on 1000 of 1000 gateways. Policy: 3000 need approval.**');
  });

  it('holds any budget from 2,000 characters up, staying well formed', () => {
    for (const plan of [planFixture(), largePlan(1000, 20), largePlan(40, 3)]) {
      for (const maxChars of [2_000, 3_500, 8_000, 20_000, 45_000]) {
        const md = renderPlanMarkdown(plan, { maxChars });
        expect(md.length, `maxChars ${maxChars}`).toBeLessThanOrEqual(maxChars);
        const { sections } = parseMarkdown(md);
        const note = NOTE.exec(md);
        const withSection = plan.gateways.filter((g) => g.status === 'error' || g.changes.length || g.notes.length);
        if (sections < withSection.length) expect(Number(note?.[1]), `maxChars ${maxChars}`).toBe(withSection.length - sections);
        else expect(note).toBeNull();
      }
    }
  });

  it('folds unchanged gateways into one table row before cutting rows that matter', () => {
    // 2,000 rows would not fit; the one that matters does.
    const plan = largePlan(2000, 0);
    plan.gateways[500] = { ...largePlan(1, 2).gateways[0]!, gateway: 'gw-0500' };
    const md = renderPlanMarkdown(plan);
    const { table, sections } = parseMarkdown(md);
    expect(sections).toBe(1);
    expect(table.rows.map((r) => r[0]!.text)).toEqual(['`gw-0500`', '… 1999 gateways with no changes']);
    expect(md).not.toMatch(NOTE);
  });

  it('leaves out a gateway too big for the comment as a whole, and counts it', () => {
    const plan = largePlan(3, 2);
    plan.gateways[1] = { ...largePlan(1, 5000).gateways[0]!, gateway: 'gw-0001' };
    const md = renderPlanMarkdown(plan);
    expect(md.length).toBeLessThanOrEqual(60_000);
    expect(parseMarkdown(md).sections).toBe(2);
    expect(md).toMatch(/… 1 more gateway \(5000 changes\) not shown/);
  });

  it('cuts a huge value inside its fence, not the comment', () => {
    const plan = largePlan(1, 1);
    const change = plan.gateways[0]!.changes[0]!;
    change.after = { text: 'x'.repeat(100_000), list: Array.from({ length: 500 }, (_, i) => `item ${i} ${'y'.repeat(60)}`) };
    const md = renderPlanMarkdown(plan);
    expect(md.length).toBeLessThan(30_000);
    expect(parseMarkdown(md).sections).toBe(1);
    expect(md).toMatch(/… \d+ more lines: see the JSON plan/);
  });
});

describe('hostile strings', () => {
  const plan = hostilePlan();

  it('cannot break the Markdown: no raw HTML, no mentions, no early end of a fence, table or section', () => {
    const md = renderPlanMarkdown(plan);
    const { table, sections } = parseMarkdown(md);
    expect(sections).toBe(2);
    expect(table.rows.map((r) => r[0]!.tokens.map((t) => (t as Tokens.Codespan).text))).toEqual([['down'], ['edge|lab`s']]);
    const html = marked.parse(md, { async: false });
    expect(html).not.toMatch(/<script|<img|<i>/);
    // GitHub resolves `@user` and `#12` in text, not in code; `&#8203;` is the zero-width space that stops it.
    const prose = html.replace(/<pre>[\s\S]*?<\/pre>|<code>[\s\S]*?<\/code>/g, '').replaceAll('&#8203;', '\u200b');
    expect(prose, 'a mention or issue link GitHub would resolve').not.toMatch(/[@#]\w/);
    expect(prose).toContain('@\u200bacme/security');
    expect(md).not.toMatch(/[\u001b\u202e]/);
  });

  it('cannot reach the terminal: escapes and bidi overrides are spelled out', () => {
    for (const color of [false, true]) {
      const text = renderPlanText(plan, { color });
      expect(text).not.toContain('\u202e');
      expect(text.replace(/\x1b\[[\d;]*m/g, '')).not.toContain('\x1b');
      expect(text).toContain('spec.config.notes\\u202e');
      expect(text).toContain('\\u001b[2J');
      expect(text).toContain('["key\\u001b[2J"]: 1 → 2');
    }
  });
});
