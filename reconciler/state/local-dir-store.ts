/**
 * The state store as plain files in a directory (tests, air-gapped use; the default until the
 * git state branch exists). Each write goes to a temporary file renamed into place, so a crash
 * never leaves half a document.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import { loadOrCreateSecretHashKey } from './secret-hash-key.ts';
import type { DriftRecord, KillRecord, LastApplied, PreApplySnapshot, RollbackPin, StateStore } from './state-store.ts';

const safe = (target: string): string => target.replace(/[^A-Za-z0-9._-]/g, '_');

export class LocalDirStateStore implements StateStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  lastApplied(target: string): Promise<LastApplied | undefined> {
    return this.read<LastApplied>(join('last-applied', `${safe(target)}.json`));
  }

  saveLastApplied(state: LastApplied): Promise<void> {
    return this.write(join('last-applied', `${safe(state.target)}.json`), state);
  }

  async savePreApply(snapshot: PreApplySnapshot): Promise<string> {
    const id = `${snapshot.takenAt.replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
    await this.write(join('pre-apply', safe(snapshot.target), `${id}.json`), snapshot);
    return id;
  }

  preApply(target: string, id: string): Promise<PreApplySnapshot | undefined> {
    return this.read<PreApplySnapshot>(join('pre-apply', safe(target), `${safe(id)}.json`));
  }

  saveLiveSnapshot(target: string, snapshot: JsonObject): Promise<void> {
    return this.write(join('live', `${safe(target)}.json`), snapshot);
  }

  liveSnapshot(target: string): Promise<JsonObject | undefined> {
    return this.read<JsonObject>(join('live', `${safe(target)}.json`));
  }

  driftRecord(target: string): Promise<DriftRecord | undefined> {
    return this.read<DriftRecord>(join('drift', `${safe(target)}.json`));
  }

  saveDriftRecord(record: DriftRecord): Promise<void> {
    return this.write(join('drift', `${safe(record.target)}.json`), record);
  }

  pin(target: string): Promise<RollbackPin | undefined> {
    return this.read<RollbackPin>(join('pins', `${safe(target)}.json`));
  }

  savePin(pin: RollbackPin): Promise<void> {
    return this.write(join('pins', `${safe(pin.target)}.json`), pin);
  }

  async deletePin(target: string): Promise<void> {
    await unlink(join(this.dir, 'pins', `${safe(target)}.json`)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  killRecord(target: string, agentId: string): Promise<KillRecord | undefined> {
    return this.read<KillRecord>(join('kills', safe(target), `${safe(agentId)}.json`));
  }

  async killRecords(target: string): Promise<KillRecord[]> {
    const names = await readdir(join(this.dir, 'kills', safe(target))).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    const records = await Promise.all(names.filter((n) => n.endsWith('.json')).sort().map((n) => this.read<KillRecord>(join('kills', safe(target), n))));
    return records.filter((r): r is KillRecord => r !== undefined);
  }

  saveKillRecord(record: KillRecord): Promise<void> {
    return this.write(join('kills', safe(record.target), `${safe(record.agentId)}.json`), record);
  }

  async deleteKillRecord(target: string, agentId: string): Promise<void> {
    await unlink(join(this.dir, 'kills', safe(target), `${safe(agentId)}.json`)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  secretHashKey(): Promise<Buffer> {
    return loadOrCreateSecretHashKey(this.dir);
  }

  private async read<T>(rel: string): Promise<T | undefined> {
    const text = await readFile(join(this.dir, rel), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  private async write(rel: string, value: unknown): Promise<void> {
    const file = join(this.dir, rel);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
    await rename(tmp, file);
  }
}
