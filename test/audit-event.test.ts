import { createHash } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { AuditEvent, canonicalLine, eventFile, eventHash, GENESIS_HASH, KNOWN_EVENT_TYPES, parseEventLine, sealEvent } from '../reconciler/audit/event.ts';

const base = {
  seq: 7,
  time: '2026-11-21T23:59:59.999Z',
  type: 'change.applied',
  actor: 'ci:github-actions',
  traceId: 'run-42',
  target: 'prod-eu',
  resource: 'Agent/support',
  agentId: 'support',
  risk: 'high' as const,
  summary: { path: 'spec.config.tools.deny', action: 'update', category: 'tools', before: { b: 2, a: [3, { z: 1, y: 2 }] }, after: null },
  beforeHash: 'sha256:aa',
  afterHash: 'sha256:bb',
  approval: { kind: 'pull-request' as const, pulls: [{ pr: 12, reviewers: [{ login: 'sec-lead', groups: ['security'] }, { login: 'alice', groups: [] }], headSha: 'a'.repeat(40) }] },
  desiredCommit: 'b'.repeat(40),
  prev: GENESIS_HASH,
};

describe('canonical form', () => {
  it('has a fixed member order, sorted nested keys, hash last, whatever order the input had', () => {
    const e = sealEvent(base);
    const shuffled = Object.fromEntries(Object.entries(e).reverse()) as AuditEvent;
    shuffled.summary = { after: null, before: { a: [3, { y: 2, z: 1 }], b: 2 }, category: 'tools', action: 'update', path: 'spec.config.tools.deny' };
    const line = canonicalLine(shuffled);
    expect(line).toBe(canonicalLine(e));
    expect(Object.keys(JSON.parse(line))).toEqual(['seq', 'time', 'type', 'actor', 'traceId', 'target', 'resource', 'agentId', 'risk', 'summary', 'beforeHash', 'afterHash', 'approval', 'desiredCommit', 'prev', 'hash']);
    expect(line).toContain('"summary":{"action":"update","after":null,"before":{"a":[3,{"y":2,"z":1}],"b":2},"category":"tools","path":"spec.config.tools.deny"}');
    expect(line).toContain('"approval":{"kind":"pull-request","pulls":[{"headSha":"' + 'a'.repeat(40) + '","pr":12,"reviewers":[{"groups":["security"],"login":"sec-lead"},{"groups":[],"login":"alice"}]}]}');
  });

  it('hash = SHA-256 of the canonical line without its hash member', () => {
    const e = sealEvent(base);
    const withoutHash = canonicalLine(e).replace(`,"hash":"${e.hash}"`, '');
    expect(e.hash).toBe(createHash('sha256').update(withoutHash).digest('hex'));
    expect(eventHash(e)).toBe(e.hash);
    expect(sealEvent({ ...base, seq: 8 }).hash).not.toBe(e.hash);
  });

  it('files events by the UTC day of their time', () => {
    expect(eventFile('2026-11-21T23:59:59.999Z')).toBe('events/2026/11/21.jsonl');
    expect(eventFile('2027-01-01T00:00:00.000Z')).toBe('events/2027/01/01.jsonl');
  });

  it('documents the known types and still accepts new dotted ones', () => {
    expect(Object.keys(KNOWN_EVENT_TYPES)).toEqual(expect.arrayContaining(['apply.started', 'change.applied', 'change.held', 'change.denied', 'apply.refused', 'rollback', 'drift.detected', 'approval.recorded', 'break-glass']));
    expect(parseEventLine(canonicalLine(sealEvent({ ...base, type: 'session.tool-call' }))).ok).toBe(true);
  });
});

describe('parseEventLine', () => {
  const good = canonicalLine(sealEvent(base));

  it('accepts a canonical line and returns the event', () => {
    const p = parseEventLine(good);
    expect(p).toMatchObject({ ok: true, event: { seq: 7, risk: 'high' } });
  });

  it.each([
    ['cut', good.slice(0, 80), 'json', 'the line is not valid JSON (a truncated or hand-edited line)'],
    ['not an event', '{"seq":1}', 'schema', 'the line is not an audit event ('],
    ['an unknown member', good.replace('"prev":', '"extra":1,"prev":'), 'schema', 'the line is not an audit event ('],
    ['re-spaced', JSON.stringify(JSON.parse(good), null, 1).replace(/\n/g, ''), 'canonical', 'seq 7 is not in canonical form'],
    ['edited', good.replace('"actor":"ci:github-actions"', '"actor":"ci:other"'), 'hash', 'seq 7 does not match its own hash: the event was edited after it was written'],
    ['a bad type', canonicalLine(sealEvent({ ...base, type: 'Change Applied' })), 'schema', 'the line is not an audit event (/type'],
  ])('rejects a line that is %s', (_what, line, kind, message) => {
    const p = parseEventLine(line);
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.kind).toBe(kind);
      expect(p.problem.startsWith(message)).toBe(true);
    }
  });
});

describe('JSON Schema', () => {
  it('is a plain draft 2020-12 schema that accepts events and rejects non-events', () => {
    const schema = JSON.parse(JSON.stringify(AuditEvent)) as object;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(JSON.parse(canonicalLine(sealEvent(base))))).toBe(true);
    expect(validate({ ...sealEvent(base), risk: 'extreme' })).toBe(false);
    expect(validate({ ...sealEvent(base), approval: { kind: 'break-glass', by: 'alice' } })).toBe(false);
  });
});
