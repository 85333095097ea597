// Killing all of a node's processes: the agent leads its own process group (setsid), so the
// group is everything it started, unless something left it on purpose.
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sends `signal` to every process of the group led by `leader`; it may be gone already. */
export function signalProcessGroup(leader: number, signal: NodeJS.Signals): void {
  if (leader > 0) signalProcess(-leader, signal);
}

/** Sends `signal` to one process; it may be gone already. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

/**
 * SIGKILLs the group led by `leader` and resolves once none of its processes is alive any more
 * (zombies count as dead: they are, whenever their reaper gets to them), or after `timeoutMs`.
 */
export async function killProcessGroup(leader: number, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    signalProcessGroup(leader, 'SIGKILL');
    if ((await liveGroupMembers(leader)).length === 0 || performance.now() > deadline) return;
    await sleep(10);
  }
}

/** PIDs of live (not zombie) processes whose process group is `pgid`, from /proc. */
async function liveGroupMembers(pgid: number): Promise<number[]> {
  const entries = await readdir('/proc');
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after "(comm)": state, ppid, pgrp, ...; comm itself may hold spaces and parens.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, , pgrp] = fields;
    if (pgrp === String(pgid) && state !== 'Z' && state !== 'X') members.push(Number(entry));
  }
  return members;
}
