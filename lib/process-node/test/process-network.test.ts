// Process nodes on a bridge: the node's namespace has its own address the host can reach, and
// shutdown and destroy leave no process, namespace or link behind.
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  leaseSubnet,
  ProcessNetwork,
  ProcessNode,
  ProcessNodeError,
} from '@metropolis/process-node';
import { fakeLoader, fakeSystemImage, running, setBehaviour, waitForRun } from './fake-agent.js';

const port = 7835;

/**
 * A /28 of 10.1.0.0/24 leased like every other test's network (a lock per block across
 * processes), so no test file running beside this one puts a bridge on the same subnet.
 * Returns the block's base (the address before the host's); the lease ends with the test.
 */
async function leasedSubnetBase(t: {
  teardown: (fn: () => Promise<void>) => void;
}): Promise<number> {
  const lease = await leaseSubnet(28);
  t.teardown(() => lease.release());
  return Number(lease.hostAddress.split('.')[3]) - 1;
}

/** Waits (briefly) until `pid` no longer runs: a kill is delivered, not instant. */
async function gone(pid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (running(pid)) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What `ip` says (in the failed command's message) about a link that does not exist. */
function noDevice(name: string): RegExp {
  return new RegExp(`Device "${name}" does not exist`);
}

/** What a TCP server at address:port says, retried while the agent is starting. */
async function ask(address: string, timeoutMs = 20_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: address, port, timeout: 1_000 });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('end', () => {
          resolve(text.trim());
        });
        socket.on('timeout', () => socket.destroy(new Error('timeout')));
        socket.on('error', reject);
      });
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

test('a node gets its own address in its namespace, reachable from the host', async (t) => {
  const base = await leasedSubnetBase(t);
  const suffix = randomBytes(3).toString('hex');
  const scratch = await mkdtemp(join(tmpdir(), 'process-network-test-'));
  const cleanup: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    for (const step of cleanup.reverse()) await step();
    await rm(scratch, { recursive: true, force: true });
  });
  const network = await ProcessNetwork.create({
    bridge: `mtrt${suffix}`,
    hostAddress: `10.1.0.${String(base + 1)}`,
    prefixLength: 28,
  });
  cleanup.push(() => network.destroy());
  const duplicate = await t.throwsAsync(
    ProcessNetwork.create({ bridge: network.bridge, hostAddress: '10.1.0.1', prefixLength: 24 }),
    { instanceOf: ProcessNodeError },
  );
  t.is(duplicate.code, 'NETWORK_EXISTS');

  const node = await ProcessNode.create({
    dir: join(scratch, 'node'),
    name: `net-${suffix}`,
    network,
    slotSize: 4 * 1024 * 1024,
    rebootDelayMs: 20,
  });
  cleanup.push(() => node.shutdown());
  t.is(node.address, `10.1.0.${String(base + 2)}`);
  t.is(node.netns, `mtr-net-${suffix}`);
  const netns = node.netns ?? '';
  await node.install({
    systemImage: await fakeSystemImage(scratch, 'v1'),
    loader: await fakeLoader(scratch, 'v1'),
  });
  await setBehaviour(node, { listen: port, child: true });
  await node.powerOn();
  const run = await waitForRun(node, 1);

  t.is(await ask(node.address ?? ''), 'v1');
  t.regex(
    ip('-n', netns, 'addr', 'show', 'dev', 'eth0'),
    new RegExp(`inet ${node.address ?? ''}/28 `),
  );
  t.regex(ip('-n', netns, 'link', 'show', 'dev', 'lo'), /state UNKNOWN|UP/);
  t.is(ip('-n', netns, 'route', 'show', 'default').trim(), '');
  const inside = ip('netns', 'pids', netns).split('\n').filter(Boolean).map(Number);
  t.true(inside.includes(run.pid));
  t.true(run.childPid !== undefined && inside.includes(run.childPid));

  const hostLinks = ip('-o', 'link', 'show', 'master', network.bridge);
  t.is(hostLinks.trim().split('\n').length, 1);
  const hostLink = /^\d+: ([^@:]+)/.exec(hostLinks)?.[1] ?? '';

  await node.shutdown();
  t.false(running(run.pid));
  t.false(run.childPid !== undefined && running(run.childPid));
  t.false(
    ip('netns', 'list')
      .split('\n')
      .some((line) => line.split(' ')[0] === netns),
  );
  t.throws(
    () => ip('link', 'show', 'dev', hostLink),
    { message: noDevice(hostLink) },
    'the veth pair is gone',
  );
  t.regex(await readFile(node.layout.consoleLog, 'utf8'), /SIGTERM, shutting down/);

  // Powered on again, the node gets its namespace back with the same address.
  await node.powerOn();
  await waitForRun(node, 2);
  t.is(await ask(node.address ?? ''), 'v1');
  await node.shutdown();

  await network.destroy();
  t.throws(
    () => ip('link', 'show', 'dev', network.bridge),
    { message: noDevice(network.bridge) },
    'the bridge is gone',
  );
});

test('a host process that exits without shutdown still removes namespace and bridge', async (t) => {
  const base = await leasedSubnetBase(t);
  const suffix = randomBytes(3).toString('hex');
  const bridge = `mtrt${suffix}`;
  const netns = `mtr-gone-${suffix}`;
  const scratch = await mkdtemp(join(tmpdir(), 'process-network-test-'));
  t.teardown(async () => {
    // Only if the test failed: what the exit handler should have removed.
    for (const args of [
      ['netns', 'del', netns],
      ['link', 'del', 'dev', bridge],
    ]) {
      try {
        ip(...args);
      } catch {
        // Gone, as it should be.
      }
    }
    await rm(scratch, { recursive: true, force: true });
  });
  const script = join(dirname(fileURLToPath(import.meta.url)), 'abandoned-node.ts');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import=tsx',
      '--conditions=source',
      script,
      scratch,
      bridge,
      `10.1.0.${String(base + 1)}`,
      `gone-${suffix}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const { pid } = JSON.parse(stdout) as { pid: number };
  t.true(await gone(pid));
  t.false(
    ip('netns', 'list')
      .split('\n')
      .some((line) => line.split(' ')[0] === netns),
  );
  t.throws(
    () => ip('link', 'show', 'dev', bridge),
    { message: noDevice(bridge) },
    'the bridge is gone',
  );
});
