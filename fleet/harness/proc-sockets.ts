/**
 * The TCP/UDP sockets a process tree holds, read straight from Linux /proc (no `ss`/`lsof`, which
 * a CI image may lack). Used to prove the real gateway listens and talks on loopback only.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { BlockList } from 'node:net';
import { endianness } from 'node:os';

export type SocketProto = 'tcp' | 'tcp6' | 'udp' | 'udp6';

export interface ProcSocket {
  readonly proto: SocketProto;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Kernel state name (TCP names; UDP reports ESTABLISHED when connected, CLOSE when only bound). */
  readonly state: string;
  readonly inode: number;
  /** Processes of the tree holding this socket. */
  readonly pids: readonly number[];
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // Processes come and go while the tree is walked.
    return '';
  }
}

/** `rootPid` and all its descendants, from /proc/<pid>/task/<tid>/children. */
export function processTree(rootPid: number): number[] {
  const seen = new Set<number>();
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    seen.add(pid);
    for (const tid of tasks) {
      for (const child of readOrEmpty(`/proc/${pid}/task/${tid}/children`).split(/\s+/)) {
        if (child) queue.push(Number(child));
      }
    }
  }
  return [...seen];
}

/** Socket inodes a process has open (`/proc/<pid>/fd/* -> socket:[inode]`). */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // The fd was closed between readdir and readlink.
    }
  }
  return inodes;
}

/** /proc/net prints each 32-bit word of an address in host byte order. */
function decodeAddress(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  if (endianness() === 'LE') for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // URL parsing yields the canonical compressed IPv6 text (e.g. "::1").
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

function parseTable(proto: SocketProto, text: string): Omit<ProcSocket, 'pids'>[] {
  const rows: Omit<ProcSocket, 'pids'>[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [localHex, localPortHex] = f[1]!.split(':');
    const [remoteHex, remotePortHex] = f[2]!.split(':');
    rows.push({
      proto,
      localAddress: decodeAddress(localHex!),
      localPort: parseInt(localPortHex!, 16),
      remoteAddress: decodeAddress(remoteHex!),
      remotePort: parseInt(remotePortHex!, 16),
      state: TCP_STATES[f[3]!.toUpperCase()] ?? f[3]!,
      inode: Number(f[9]),
    });
  }
  return rows;
}

/** Every TCP/UDP socket held by `rootPid` or a descendant, as seen in that process's network namespace. */
export function treeSockets(rootPid: number): ProcSocket[] {
  const owners = new Map<number, number[]>();
  for (const pid of processTree(rootPid)) {
    for (const inode of socketInodes(pid)) owners.set(inode, [...(owners.get(inode) ?? []), pid]);
  }
  const sockets: ProcSocket[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    for (const row of parseTable(proto, readOrEmpty(`/proc/${rootPid}/net/${proto}`))) {
      const pids = owners.get(row.inode);
      if (pids && row.inode !== 0) sockets.push({ ...row, pids });
    }
  }
  return sockets;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

export function isLoopbackAddress(address: string): boolean {
  return address.includes(':') ? loopback.check(address, 'ipv6') : loopback.check(address, 'ipv4');
}

/** Accepting connections (TCP) or bound to receive datagrams (UDP). */
export function isListener(s: ProcSocket): boolean {
  return s.proto.startsWith('tcp') ? s.state === 'LISTEN' : s.localPort !== 0;
}

/** Talking to (or trying to reach) a peer: any socket with a remote end. */
export function hasPeer(s: ProcSocket): boolean {
  return s.state !== 'LISTEN' && s.remotePort !== 0;
}

export function describeSocket(s: ProcSocket): string {
  const peer = hasPeer(s) ? ` -> ${s.remoteAddress}:${s.remotePort}` : '';
  return `${s.proto} ${s.localAddress}:${s.localPort}${peer} ${s.state} (pid ${s.pids.join(',')})`;
}
