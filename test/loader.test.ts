import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../reconciler/diagnostics/diagnostic.ts';
import { exitCodeFor } from '../reconciler/cli/program.ts';
import { loadRepo } from '../reconciler/load/load-repo.ts';
import { matchesSelector } from '../reconciler/model/selector.ts';
import { redactingOutput, type Ports } from '../reconciler/ports.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-loader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
let n = 0;
function repo(files: Record<string, string>): string {
  const dir = join(tmp, `r${n++}`);
  const all = { 'clawops.yaml': `apiVersion: clawops.dev/v1\nkind: Repository\nspec: { secrets: { recipients: [${RECIPIENT}] } }\n`, 'secrets/tok.age': 'x', ...files };
  for (const [p, c] of Object.entries(all)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  return dir;
}
const problems = async (dir: string) => (await loadRepo(dir)).diagnostics.map(formatDiagnostic);
const GATEWAYS = `apiVersion: clawops.dev/v1
kind: Gateway
metadata: { name: eu, labels: { env: prod, region: eu } }
spec: { url: "ws://127.0.0.1:1", auth: { token: { secretRef: tok } } }
---
apiVersion: clawops.dev/v1
kind: Gateway
metadata: { name: us, labels: { env: prod, region: us } }
spec: { url: "ws://127.0.0.1:2", auth: { token: { secretRef: tok } } }
`;

/** A template with no variables, for tests about deployments rather than values. */
const DESK_TEMPLATE = `apiVersion: clawops.dev/v1
kind: Template
metadata: { name: desk }
spec: { version: 1.0.0, variables: {}, agent: { config: {} } }
---
`;

describe('label selectors', () => {
  it('match labels and set-based expressions like Kubernetes', () => {
    const labels = { env: 'prod', region: 'eu' };
    const cases: Array<[Parameters<typeof matchesSelector>[0], boolean]> = [
      [{}, true],
      [{ matchLabels: { env: 'prod' } }, true],
      [{ matchLabels: { env: 'dev' } }, false],
      [{ matchExpressions: [{ key: 'region', operator: 'In', values: ['eu', 'us'] }] }, true],
      [{ matchExpressions: [{ key: 'region', operator: 'NotIn', values: ['eu'] }] }, false],
      [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['x'] }] }, true],
      [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, false],
      [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, true],
      [{ matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'region', operator: 'In', values: ['us'] }] }, false],
    ];
    for (const [sel, expected] of cases) expect(matchesSelector(sel, labels), JSON.stringify(sel)).toBe(expected);
  });
});

describe('cross-resource checks', () => {
  it('gives one agent id per gateway, counting template instances, and names both places', async () => {
    const dir = repo({
      'gw.yaml': GATEWAYS,
      'a.yaml': `apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: desk-eu }\nspec:\n  gateway: eu\n  config: {}\n`,
      't.yaml': `${DESK_TEMPLATE}apiVersion: clawops.dev/v1
kind: TemplateDeployment
metadata: { name: desks }
spec:
  gateways: { matchLabels: { env: prod } }
  template: { name: desk, version: 1.0.0 }
  instances: [{ name: desk-eu }, { name: desk-us }]
`,
    });
    expect(await problems(dir)).toEqual([
      't.yaml:12:23  TemplateDeployment/desks  spec.instances[0].name: agent id "desk-eu" is already used on gateway eu by Agent/desk-eu (rename the instance or target different gateways) [see a.yaml:3:19]',
    ]);
  });

  it('checks template values against their typed variables', async () => {
    const dir = repo({
      'gw.yaml': GATEWAYS,
      't.yaml': `apiVersion: clawops.dev/v1
kind: Template
metadata: { name: desk }
spec:
  version: 2.1.0
  variables:
    team: { type: string, pattern: "^[a-z]+$" }
    seats: { type: number, minimum: 1, default: 1 }
    tier: { type: string, enum: [gold, silver], default: silver }
    extra: { type: json, required: false }
  agent: { config: { name: "\${team} desk \${seets}" } }
---
apiVersion: clawops.dev/v1
kind: TemplateDeployment
metadata: { name: desks }
spec:
  gateway: eu
  template: { name: desk, version: 2.1.0 }
  instances:
    - { name: a, values: { team: Ops, seats: 0, tier: bronze } }
    - { name: b, values: { teem: ops } }
    - { name: c, values: { team: ops, extra: { any: [thing] } } }
`,
    });
    expect(await problems(dir)).toEqual([
      't.yaml:11:28  Template/desk  spec.agent.config.name: ${seets} names no variable of this template (did you mean "seats"?)',
      't.yaml:20:34  TemplateDeployment/desks  spec.instances[0].values.team: "Ops" is not in the expected form (it must match ^[a-z]+$)',
      't.yaml:20:46  TemplateDeployment/desks  spec.instances[0].values.seats: 0: must be >= 1',
      't.yaml:20:55  TemplateDeployment/desks  spec.instances[0].values.tier: "bronze" is not one of "gold", "silver"',
      't.yaml:21:18  TemplateDeployment/desks  spec.instances[1].values: missing value for required variable "team" of template desk',
      't.yaml:21:28  TemplateDeployment/desks  spec.instances[1].values.teem: template desk has no variable "teem" (did you mean "team"?)',
    ]);
  });

  it('lets selectors see the labels of template instances, and reports selectors that match nothing', async () => {
    const dir = repo({
      'gw.yaml': GATEWAYS,
      't.yaml': `${DESK_TEMPLATE}apiVersion: clawops.dev/v1
kind: TemplateDeployment
metadata: { name: desks, labels: { team: help } }
spec:
  gateway: us
  template: { name: desk, version: 1.0.0 }
  instances: [{ name: one, labels: { tier: gold } }]
`,
      'rules.yaml': `apiVersion: clawops.dev/v1
kind: ApprovalRule
metadata: { name: gold }
spec: { agents: { matchLabels: { team: help, tier: gold } }, exec: { security: deny } }
---
apiVersion: clawops.dev/v1
kind: Budget
metadata: { name: nobody }
spec: { scope: { agents: { matchLabels: { team: sales } } }, period: day, limitUsd: 1, onBreach: { action: alert } }
`,
    });
    expect(await problems(dir)).toEqual([
      'rules.yaml:9:26  Budget/nobody  spec.scope.agents: selector team=sales matches no agent (check the labels on the agents this budget should cover)',
    ]);
  });

  it('requires every secretRef, also in clawops.yaml, to have its encrypted file', async () => {
    const dir = repo({
      'clawops.yaml': `apiVersion: clawops.dev/v1\nkind: Repository\nspec:\n  secrets: { recipients: [${RECIPIENT}] }\n  audit: { signingKey: { secretRef: audit-key } }\n`,
      'gw.yaml': GATEWAYS.replace('secretRef: tok } } }\n---', 'secretRef: tok2 } } }\n---'),
    });
    expect(await problems(dir)).toEqual([
      'clawops.yaml:5:37  Repository  spec.audit.signingKey.secretRef: secret "audit-key" does not exist (no secrets/audit-key.age) (create it with `clawops secrets set audit-key`, which reads the value from stdin)',
      'gw.yaml:4:62  Gateway/eu  spec.auth.token.secretRef: secret "tok2" does not exist (no secrets/tok2.age) (create it with `clawops secrets set tok2`, which reads the value from stdin)',
    ]);
  });
});

describe('policies and templates', () => {
  it('checks approver groups, exception scopes and template workspace files', async () => {
    const dir = repo({
      'clawops.yaml': `apiVersion: clawops.dev/v1\nkind: Repository\nspec:\n  secrets: { recipients: [${RECIPIENT}] }\n  approvers: { security: { users: [alice] } }\n`,
      'gw.yaml': GATEWAYS,
      'p.yaml': `apiVersion: clawops.dev/v1
kind: Policy
metadata: { name: mine }
spec:
  rules:
    - { id: r1, match: { kinds: [Agent] }, risk: high, effect: require-approval, approvals: { count: 1, teams: [securty] }, message: m }
---
apiVersion: clawops.dev/v1
kind: PolicyException
metadata: { name: ex }
spec: { rule: mine/r1, scope: { matchLabels: { team: ghosts } }, owner: bob, reason: r, expiresAt: "2030-01-01T00:00:00Z" }
`,
      't.yaml': `apiVersion: clawops.dev/v1\nkind: Template\nmetadata: { name: desk }\nspec: { version: 1.0.0, variables: {}, agent: { config: {}, files: { SOUL.md: ./desk/SOUL.md } } }\n`,
    });
    expect(await problems(dir)).toEqual([
      'p.yaml:6:113  Policy/mine  spec.rules[0].approvals.teams[0]: no approver group "securty" in clawops.yaml (did you mean "security"?)',
      'p.yaml:11:31  PolicyException/ex  spec.scope: scope team=ghosts matches no resource (check the labels of the resources this exception should cover)',
      't.yaml:4:79  Template/desk  spec.agent.files["SOUL.md"]: file "./desk/SOUL.md" does not exist (looked for desk/SOUL.md) (paths are relative to the YAML file that names them)',
    ]);
  });
});

describe('follow-on errors', () => {
  it('a resource that fails its schema is reported once, not again by everything that refers to it', async () => {
    const dir = repo({
      'gw.yaml': GATEWAYS.replace('url: "ws://127.0.0.1:1"', 'url: "http://eu"'),
      'a.yaml': `apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: one }\nspec:\n  gateway: eu\n  config: {}\n---\napiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: two }\nspec:\n  gateways: { matchLabels: { region: eu } }\n  config: {}\n`,
    });
    expect(await problems(dir)).toEqual([
      'gw.yaml:4:14  Gateway/eu  spec.url: "http://eu" is not in the expected form (WebSocket URL of the gateway, e.g. `ws://127.0.0.1:18789` or `wss://gw.example.com`.)',
    ]);
  });

  it('a duplicated Gateway does not make its agents collide with themselves', async () => {
    const dir = repo({
      'gw.yaml': GATEWAYS + '---\n' + GATEWAYS.split('---')[0],
      'a.yaml': `apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: one }\nspec:\n  gateways: { matchLabels: { env: prod } }\n  config: {}\n`,
    });
    expect((await loadRepo(dir)).diagnostics.map((d) => d.code)).toEqual(['duplicate-resource', 'duplicate-resource']);
  });

  it('a file of bare `---` separators is empty: a warning, not an error', async () => {
    const dir = repo({ 'gw.yaml': GATEWAYS, 'blank.yaml': '---\n---\n' });
    expect(await problems(dir)).toEqual(['blank.yaml  warning: the file holds no documents (add a resource or delete the file)']);
  });
});

describe('faults', () => {
  it('an internal error is one line and a hint, never a stack trace (unless CLAWOPS_DEBUG)', () => {
    let err = '';
    const ports = { err: redactingOutput({ write: (s: string) => (err += s) }, new Redactor()), env: {} } as unknown as Ports;
    expect(exitCodeFor(new TypeError('x is undefined'), ports)).toBe(1);
    expect(err).toBe('clawops: internal error: x is undefined\n(this is a bug in clawops; set CLAWOPS_DEBUG=1 for details and report it)\n');
  });
});
