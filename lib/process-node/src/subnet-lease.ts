// Leases a block of 10.1.0.0/24 to one network at a time across every process on the host, so
// test files running side by side never put two bridges on the same subnet.
import { randomInt } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessNodeError } from './errors.js';
import { formatIpv4, parseIpv4 } from './ipv4-subnet.js';
import { onProcessExit } from './on-process-exit.js';
import { runIp } from './run-ip.js';

/** A block of the lab subnet, held until {@link SubnetLease.release}. */
export interface SubnetLease {
  /** The first host address of the block, for the host's end of the bridge. */
  readonly hostAddress: string;
  readonly prefixLength: number;
  /** A bridge name unique to the block. */
  readonly bridge: string;
  release(): Promise<void>;
}

const lab = parseIpv4('10.1.0.0');
const labPrefix = 24;

/**
 * Leases a free /`prefixLength` block of 10.1.0.0/24: one whose lock file in `lockDir` is free
 * (or left by a dead process) and on which no interface of the host has an address yet.
 */
export async function leaseSubnet(
  prefixLength = 28,
  lockDir = '/run/metropolis-process-node/subnets',
): Promise<SubnetLease> {
  if (prefixLength <= labPrefix || prefixLength > 29) {
    throw new ProcessNodeError(
      'OPTIONS_INVALID',
      `a lease is a /25 to /29, not /${String(prefixLength)}`,
    );
  }
  await mkdir(lockDir, { recursive: true });
  const size = 2 ** (32 - prefixLength);
  const blocks = Array.from({ length: 2 ** (prefixLength - labPrefix) }, (_, i) => lab + i * size);
  // Random order keeps concurrent callers from racing for the same first block.
  for (let i = blocks.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [blocks[i], blocks[j]] = [blocks[j] ?? 0, blocks[i] ?? 0];
  }
  const used = await addressesInUse();
  for (const base of blocks) {
    if (used.some((address) => address >= base && address < base + size)) continue;
    const lock = join(lockDir, formatIpv4(base));
    if (!(await tryLock(lock))) continue;
    const cancel = onProcessExit(() => {
      rmSync(lock, { force: true });
    });
    return {
      hostAddress: formatIpv4(base + 1),
      prefixLength,
      bridge: `mtrs${(base - lab).toString(16).padStart(2, '0')}`,
      release: async () => {
        cancel();
        await rm(lock, { force: true });
      },
    };
  }
  throw new ProcessNodeError(
    'NETWORK_ADDRESSES_EXHAUSTED',
    'no free block of 10.1.0.0/24 to lease',
  );
}

async function tryLock(path: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(await readFile(path, 'utf8').catch(() => ''));
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
    // Left by a process that died without releasing it.
    await rm(path, { force: true });
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function addressesInUse(): Promise<number[]> {
  const out = await runIp(['-4', '-o', 'addr', 'show']);
  return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((match) =>
    parseIpv4(match[1] ?? ''),
  );
}
