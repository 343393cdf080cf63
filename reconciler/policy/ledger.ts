/**
 * The approval ledger (`approvals/ledger.yaml`, kind ApprovalLedger): how a change that reached
 * the main branch without its approvals gets them afterwards. clawops holds the change and opens a
 * pull request adding an entry named by the change set's id; merged with the required reviews,
 * that entry releases the hold. The id is a hash of what would be written (gateway, agent, each
 * change's path, action and new value), not of what live holds, so the same held change keeps
 * its id across runs, and any edit to it needs a new approval.
 */
import { createHash } from 'node:crypto';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import type { FleetRepo } from '../load/load-repo.ts';
import { ofKind } from '../load/resource.ts';
import type { ResourceOf } from '../model/kinds.ts';
import type { Change } from '../plan/plan.ts';

export const LEDGER_FILE = 'approvals/ledger.yaml';

export type LedgerEntry = ResourceOf<'ApprovalLedger'>['spec']['entries'][number];

/** The id of an agent's held change set on a gateway. */
export function changeSetId(gateway: string, agentId: string, changes: readonly Change[]): string {
  const canon = [...changes]
    .map((c) => JSON.stringify([c.path, c.action, c.after ?? null]))
    .sort()
    .join('\n');
  return createHash('sha256').update(`${gateway}\n${agentId}\n${canon}`).digest('hex').slice(0, 24);
}

/** Every ledger entry in the repo, by id. */
export function ledgerEntries(repo: FleetRepo): ReadonlyMap<string, LedgerEntry> {
  return new Map(ofKind(repo.resources, 'ApprovalLedger').flatMap((l) => l.value.spec.entries.map((e) => [e.id, e] as const)));
}

/** Entry ids in one version of the ledger file; history may hold anything, so nothing here throws. */
export function entryIdsIn(text: string): Set<string> {
  const doc = parseDocument(text);
  if (doc.errors.length) return new Set();
  const entries: unknown = doc.getIn(['spec', 'entries']);
  const ids = isSeq(entries) ? entries.items.map((e) => (isMap(e) ? e.get('id') : undefined)) : [];
  return new Set(ids.filter((id): id is string => typeof id === 'string'));
}

const HEADER = `# Approvals of changes that reached main without the reviews policy asks for. clawops holds such a
# change and opens a pull request adding an entry here; merging that pull request with the
# required reviews releases it. Entries stay as the record.
`;

/** The ledger file's text with `entry` appended (comments and layout of the existing file kept). */
export function withEntry(existing: string | undefined, entry: LedgerEntry): string {
  const doc: Document = existing?.trim()
    ? parseDocument(existing)
    : parseDocument(`${HEADER}apiVersion: clawops.dev/v1\nkind: ApprovalLedger\nmetadata:\n  name: ledger\nspec:\n  entries: []\n`);
  const entries = doc.getIn(['spec', 'entries']);
  if (entries === undefined || entries === null) doc.setIn(['spec', 'entries'], doc.createNode([entry]));
  else doc.addIn(['spec', 'entries'], doc.createNode(entry));
  // A flow sequence (`entries: []`) would put the whole entry on one line.
  const seq = doc.getIn(['spec', 'entries'], true) as { flow?: boolean } | undefined;
  if (seq) seq.flow = false;
  return doc.toString({ lineWidth: 0 });
}
