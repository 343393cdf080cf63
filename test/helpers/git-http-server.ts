/**
 * A real git smart-HTTP server for tests: `git http-backend` (CGI) behind a small Node HTTP
 * server on 127.0.0.1. Serves every bare repository under `root`, accepts pushes (REMOTE_USER is
 * set and `http.receivepack` enabled), gunzips request bodies (native git gzips them), can
 * require a token (basic auth `x-access-token:<token>`), and can hold a receive-pack POST to
 * stage a true race. git is always spawned asynchronously: a synchronous spawn would block this
 * process's event loop, and with it the server the child is talking to.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { freePort } from '../../fleet/harness/free-port.ts';

export interface GitHttpServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly root: string;
  /** Creates `<root>/<name>.git` (bare, with a `main` branch unless `empty`) and returns its URL. */
  createRepo(name: string, opts?: { empty?: boolean }): Promise<string>;
  /** Runs before each receive-pack POST is handed to git; a test can hold a push here. */
  beforeReceivePack: ((repo: string) => Promise<void>) | undefined;
  /** Receive-pack POSTs served so far (pushes that reached git). */
  readonly pushes: number;
  close(): Promise<void>;
}

/** Runs a program (git, ssh-keygen) without blocking the event loop; resolves with its output and exit code. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Uint8Array } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Native git, isolated from the user's and the system's configuration. */
export const runGit = (args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Uint8Array } = {}) =>
  run('git', args, { ...opts, env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...opts.env } });

export async function startGitHttpServer(opts: { token?: string } = {}): Promise<GitHttpServer> {
  const root = await mkdtemp(join(tmpdir(), 'clawops-git-http-'));
  const children = new Set<ChildProcess>();
  const sockets = new Set<Socket>();
  let pushes = 0;
  const expectedAuth = opts.token ? `Basic ${Buffer.from(`x-access-token:${opts.token}`).toString('base64')}` : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // The scheme is case-insensitive (RFC 7235); actions/checkout sends `basic`.
    const given = req.headers.authorization?.replace(/^basic /i, 'Basic ');
    if (expectedAuth && given !== expectedAuth) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('unauthorized\n');
      return;
    }
    const isReceivePack = req.method === 'POST' && url.pathname.endsWith('/git-receive-pack');
    if (isReceivePack && server.beforeReceivePack) await server.beforeReceivePack(url.pathname.split('/')[1] ?? '');
    if (isReceivePack) pushes++;
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        HOME: root,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.receivepack',
        GIT_CONFIG_VALUE_0: 'true',
        REMOTE_USER: 'clawops-test',
        REMOTE_ADDR: '127.0.0.1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    child.on('close', () => children.delete(child));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const body = req.headers['content-encoding'] === 'gzip' ? req.pipe(createGunzip()) : req;
    body.pipe(child.stdin);
    child.stdin.on('error', () => undefined);

    // CGI output: headers (with a `Status:` line), a blank line, then the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf !== -1 && (lf === -1 || crlf < lf) ? crlf + 4 : lf !== -1 ? lf + 2 : -1;
      if (end === -1) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end));
    });
    child.on('close', (code) => {
      if (!headersDone) res.writeHead(500).end(`git http-backend exited ${code}: ${stderr}`);
      else res.end();
    });
  };

  const port = await freePort();
  const server: GitHttpServer & { http: ReturnType<typeof createServer> } = {
    url: `http://127.0.0.1:${port}`,
    root,
    beforeReceivePack: undefined,
    get pushes() {
      return pushes;
    },
    createRepo: async (name, { empty = false } = {}) => {
      const gitdir = join(root, `${name}.git`);
      const git = async (...args: string[]): Promise<string> => {
        const r = await runGit(['--git-dir', gitdir, ...args], { env: { GIT_AUTHOR_NAME: 'fleet', GIT_AUTHOR_EMAIL: 'fleet@example.com', GIT_COMMITTER_NAME: 'fleet', GIT_COMMITTER_EMAIL: 'fleet@example.com' } });
        if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
        return r.stdout.trim();
      };
      await git('init', '--bare', '--quiet', '--initial-branch=main');
      // Like a real fleet repo: a default branch, so the remote's HEAD resolves.
      if (!empty) await git('update-ref', 'refs/heads/main', await git('commit-tree', await git('mktree'), '-m', 'fleet repo'));
      return `${server.url}/${name}.git`;
    },
    http: createServer((req, res) => {
      handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(e));
      });
    }),
    close: async () => {
      for (const c of children) c.kill('SIGKILL');
      for (const s of sockets) s.destroy();
      await new Promise<void>((done) => server.http.close(() => done()));
      await rm(root, { recursive: true, force: true });
    },
  };
  server.http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((done, fail) => {
    server.http.once('error', fail);
    server.http.listen(port, '127.0.0.1', () => done());
  });
  return server;
}
