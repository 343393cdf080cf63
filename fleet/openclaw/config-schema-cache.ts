/**
 * The gateway's config JSON Schema is ~2 MB and the same for every gateway of one build, so a
 * fleet of a thousand gateways fetches it once per build, not once per gateway. Kept in memory
 * and, when given a directory, on disk between runs (CI caches that directory).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigSchema, OpenClawGateway } from './gateway-api.ts';

export class ConfigSchemaCache {
  private readonly memory = new Map<string, Promise<ConfigSchema>>();
  private readonly dir: string | undefined;
  /** How many schemas were fetched from a gateway (the rest came from memory or disk). */
  fetches = 0;

  constructor(opts: { dir?: string } = {}) {
    this.dir = opts.dir;
  }

  /** The schema for this gateway's build; concurrent callers for one build share one fetch. */
  get(gateway: OpenClawGateway): Promise<ConfigSchema> {
    const { version, buildId } = gateway.client.hello.server;
    // Plugins contribute to the schema, and the build id pins the bundled set; the version alone
    // is the fallback for gateways that do not send one.
    const key = `${version}-${createHash('sha256').update(buildId ?? version).digest('hex').slice(0, 16)}`;
    let entry = this.memory.get(key);
    if (!entry) {
      entry = this.load(key, gateway);
      this.memory.set(key, entry);
      // A failed fetch must not poison the cache for the next gateway.
      entry.catch(() => this.memory.delete(key));
    }
    return entry;
  }

  private async load(key: string, gateway: OpenClawGateway): Promise<ConfigSchema> {
    const file = this.dir ? join(this.dir, `config-schema-${key}.json`) : undefined;
    if (file) {
      const cached = await readCached(file);
      if (cached?.version === gateway.version) return cached;
    }
    this.fetches++;
    const schema = await gateway.configSchema();
    if (file && this.dir) {
      await mkdir(this.dir, { recursive: true });
      // Written aside and renamed, so a concurrent reader never sees half a file.
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(schema));
      await rename(tmp, file);
    }
    return schema;
  }
}

/** A missing or damaged cache file is a miss, never an error. */
async function readCached(file: string): Promise<ConfigSchema | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ConfigSchema;
  } catch {
    return undefined;
  }
}
