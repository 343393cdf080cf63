/**
 * Installs the pinned real OpenClaw (fleet/harness/fixture, like a test browser) on first use.
 * It is never a project dependency: its install refuses Node < 24.16, and clawops runs on 22.
 * Several vitest workers or benchmark processes may ask at once, so installs are serialized with a
 * lock directory shared across processes.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../reconciler/package-root.ts';

export interface OpenClawInstall {
  /** Absolute path of `openclaw.mjs`, to run as `node <entry> gateway run …`. */
  readonly entry: string;
  readonly version: string;
}

export interface EnsureOpenClawOptions {
  /** Another fixture project (tests of this module); defaults to the one shipped in the repo. */
  readonly fixtureDir?: string;
  /** Where progress lines go; stderr by default, because a first install takes a minute. */
  readonly log?: (line: string) => void;
}

const MARKER = '.clawops-fixture.json';
const INSTALL_TIMEOUT_MS = 15 * 60_000;
/** A lock older than this is assumed to belong to a hung install. */
const STALE_LOCK_MS = 30 * 60_000;

interface LockedPackage {
  version?: string;
  integrity?: string;
  optional?: boolean;
  engines?: { node?: string };
}

interface Lockfile {
  sha256: string;
  version: string;
  nodeRange: string | undefined;
  packages: Record<string, LockedPackage>;
}

export function openClawFixtureDir(): string {
  return join(packageRoot(), 'fleet', 'harness', 'fixture');
}

const pending = new Map<string, Promise<OpenClawInstall>>();

export function ensureOpenClaw(opts: EnsureOpenClawOptions = {}): Promise<OpenClawInstall> {
  const dir = opts.fixtureDir ?? openClawFixtureDir();
  let p = pending.get(dir);
  if (!p) {
    p = ensure(dir, opts.log ?? ((line) => process.stderr.write(`${line}\n`)));
    pending.set(dir, p);
    // A failed install may be fixed (network back, disk freed) and retried in the same process.
    p.catch(() => pending.delete(dir));
  }
  return p;
}

async function ensure(dir: string, log: (line: string) => void): Promise<OpenClawInstall> {
  const lock = readLockfile(dir);
  if (lock.nodeRange && !satisfies(process.versions.node, lock.nodeRange)) {
    throw new Error(
      `openclaw@${lock.version} needs Node ${lock.nodeRange}, but this process runs Node ${process.versions.node}. ` +
        'Run clawops tests and benchmarks with Node 24 (the project installs it as a dev dependency: put node_modules/.bin first on PATH).',
    );
  }
  const ready = installedMatching(dir, lock);
  if (ready) return ready;
  return withInstallLock(dir, async () => {
    // Another process may have finished the install while this one waited for the lock.
    const done = installedMatching(dir, lock);
    if (done) return done;
    log(`clawops: installing openclaw@${lock.version} into ${dir} (npm ci, first use only)…`);
    await npmCi(dir);
    const installed = readInstalledVersion(dir);
    if (installed !== lock.version) {
      throw new Error(`npm ci in ${dir} finished but installed openclaw ${installed ?? '(nothing)'} instead of ${lock.version}; delete ${join(dir, 'node_modules')} and retry`);
    }
    writeFileSync(join(dir, 'node_modules', MARKER), `${JSON.stringify({ lockSha256: lock.sha256, version: lock.version, node: process.version, installedAt: new Date().toISOString() }, null, 2)}\n`);
    return { entry: entryPath(dir), version: lock.version };
  });
}

function readLockfile(dir: string): Lockfile {
  const path = join(dir, 'package-lock.json');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`the OpenClaw fixture lockfile ${path} is missing (${(e as Error).message}); it is committed with the repository`, { cause: e });
  }
  const parsed = JSON.parse(bytes.toString('utf8')) as { packages?: Record<string, LockedPackage> };
  const packages = parsed.packages ?? {};
  const openclaw = packages['node_modules/openclaw'];
  if (!openclaw?.version) throw new Error(`${path} does not pin node_modules/openclaw`);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), version: openclaw.version, nodeRange: openclaw.engines?.node, packages };
}

function entryPath(dir: string): string {
  return join(dir, 'node_modules', 'openclaw', 'openclaw.mjs');
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function readInstalledVersion(dir: string): string | undefined {
  return readJson<{ version?: string }>(join(dir, 'node_modules', 'openclaw', 'package.json'))?.version;
}

/** The installed tree, if it is exactly what the lockfile asks for. */
function installedMatching(dir: string, lock: Lockfile): OpenClawInstall | undefined {
  if (readInstalledVersion(dir) !== lock.version || !existsSync(entryPath(dir))) return undefined;
  const marker = readJson<{ lockSha256?: string }>(join(dir, 'node_modules', MARKER));
  if (marker?.lockSha256 === lock.sha256) return { entry: entryPath(dir), version: lock.version };
  if (marker) return undefined;
  // No marker: a tree installed by a plain `npm ci` (not by this module). npm's own record of the
  // tree proves whether it matches the lockfile; reinstalling instead would pull files from under
  // any gateway already running from it.
  if (!hiddenLockfileMatches(dir, lock)) return undefined;
  writeFileSync(join(dir, 'node_modules', MARKER), `${JSON.stringify({ lockSha256: lock.sha256, version: lock.version, adoptedAt: new Date().toISOString() }, null, 2)}\n`);
  return { entry: entryPath(dir), version: lock.version };
}

function hiddenLockfileMatches(dir: string, lock: Lockfile): boolean {
  const hidden = readJson<{ packages?: Record<string, LockedPackage> }>(join(dir, 'node_modules', '.package-lock.json'))?.packages;
  if (!hidden) return false;
  for (const [key, want] of Object.entries(lock.packages)) {
    if (key === '') continue;
    const have = hidden[key];
    // Optional packages for other platforms are legitimately absent.
    if (!have) {
      if (want.optional) continue;
      return false;
    }
    if (have.version !== want.version || (want.integrity && have.integrity && have.integrity !== want.integrity)) return false;
  }
  return Object.keys(hidden).every((key) => key in lock.packages);
}

function npmCi(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // npm's lifecycle scripts must run on this (new enough) Node, not whatever is first on PATH.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
    const child = spawn('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-64_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGTERM'), INSTALL_TIMEOUT_MS);
    const fail = (what: string) =>
      new Error(
        `installing the OpenClaw fixture in ${dir} failed: ${what}.\n` +
          `--- npm's output (abridged) ---\n${npmSummary(output)}\n---\n` +
          `Fix the cause (network access to the npm registry, disk space), then run \`npm ci --no-audit --no-fund\` in ${dir} with Node >= 24.16 first on PATH, or just rerun the tests.`,
      );
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(fail(`could not run npm (${e.message})`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(fail(signal ? `npm was killed by ${signal}${signal === 'SIGTERM' ? ` after ${INSTALL_TIMEOUT_MS / 60_000} min` : ''}` : `npm ci exited with code ${code}`));
    });
  });
}

/** npm prints the cause first and then pages of usage text, so the plain tail often hides it. */
function npmSummary(output: string): string {
  const errors = output.split('\n').filter((l) => /^npm (error|ERR!)\s*\S/.test(l));
  if (!errors.length) return tail(output, 40);
  const first = errors.slice(0, 15);
  return [...first, ...(errors.length > first.length ? ['…'] : []), tail(output, 3)].join('\n');
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function withInstallLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  // Outside the fixture: `npm ci` wipes node_modules, and the fixture dir is committed.
  const lockDir = join(tmpdir(), `clawops-fixture-install-${userInfo().uid}-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.lock`);
  const deadline = Date.now() + INSTALL_TIMEOUT_MS + 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'owner.json'), JSON.stringify({ pid: process.pid, host: hostname(), since: Date.now() }));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (isStale(lockDir)) {
      breakLock(lockDir);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for another process to finish installing the OpenClaw fixture (lock ${lockDir}); if none is running, delete that directory`);
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function isStale(lockDir: string): boolean {
  const owner = readJson<{ pid?: number; host?: string; since?: number }>(join(lockDir, 'owner.json'));
  if (!owner) {
    // The owner creates the directory and then writes owner.json; give it a moment.
    try {
      return Date.now() - statSync(lockDir).mtimeMs > 30_000;
    } catch {
      return false;
    }
  }
  if (typeof owner.since === 'number' && Date.now() - owner.since > STALE_LOCK_MS) return true;
  return owner.host === hostname() && typeof owner.pid === 'number' && !isAlive(owner.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Renaming is atomic, so of several processes that found the same stale lock only one removes it. */
function breakLock(lockDir: string): void {
  const aside = `${lockDir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockDir, aside);
  } catch {
    return;
  }
  rmSync(aside, { recursive: true, force: true });
}

/** Enough of semver ranges for `engines.node` (e.g. ">=24.16.0 <25 || >=26.1.0"). */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  return range.split('||').some((alt) =>
    alt
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const m = /^(>=|<=|>|<|=|\^|~)?v?([\d.x*]+)$/.exec(comparator);
        if (!m) return true;
        const c = compare(v, parseVersion(m[2]!));
        switch (m[1]) {
          case '>=':
            return c >= 0;
          case '<=':
            return c <= 0;
          case '>':
            return c > 0;
          case '<':
            return c < 0;
          case '^':
            return c >= 0 && v[0] === parseVersion(m[2]!)[0];
          case '~':
            return c >= 0 && v[0] === parseVersion(m[2]!)[0] && v[1] === parseVersion(m[2]!)[1];
          default:
            return c === 0;
        }
      }),
  );
}

function parseVersion(s: string): [number, number, number] {
  const [a, b, c] = s.split('.').map((n) => (/^\d+$/.test(n) ? Number(n) : 0));
  return [a ?? 0, b ?? 0, c ?? 0];
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! - b[i]!;
  return 0;
}
