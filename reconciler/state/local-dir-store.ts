/**
 * The state store as plain files in a directory (tests, air-gapped use; the default until the
 * git state branch exists). Each write goes to a temporary file renamed into place, so a crash
 * never leaves half a document.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import { loadOrCreateSecretHashKey } from './secret-hash-key.ts';
import type { DriftRecord, LastApplied, PreApplySnapshot, StateStore } from './state-store.ts';

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
