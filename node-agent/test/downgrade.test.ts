// Anti-rollback with the real agent: once a node committed a release of security epoch 1, a
// signed bundle of epoch 0 is refused (AGENT_DOWNGRADE_REFUSED) and so is a Rollback to the slot
// that holds one, with slots, ESP and EFI variables unchanged; allowDowngrade lets the owner's
// downgrade through. The public development key is refused unless the node is a development node.
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { NodeLayout, Slot } from '@metropolis/api';
import { agentRoots } from '@metropolis/process-node';
import { BundleServer, TestNode, buildRelease, type Release } from './fixture-node.js';

let releases: string;
let v1: Release;
let v2: Release;
let node: TestNode;
let server: BundleServer;
const teardowns: (() => Promise<unknown>)[] = [];

test.before(async () => {
  releases = await mkdtemp(join(tmpdir(), 'agent-downgrade-'));
  [v1, v2] = await Promise.all([
    buildRelease(releases, 'v0.1.0'),
    buildRelease(releases, 'v0.2.0', ['--operator-entry', 'none', '--security-epoch', '1']),
  ]);
  const collector = { teardown: (fn: () => Promise<unknown>) => teardowns.unshift(fn) };
  node = await TestNode.start(collector, { release: v1 });
  server = await BundleServer.start(node.network.hostAddress, collector);
});

test.after.always(async () => {
  for (const teardown of teardowns) await teardown();
  await rm(releases, { recursive: true, force: true });
});

/** Runs `call`, expects a refusal with `code` and `errorCode`, and that nothing on disk changed. */
async function refused(
  t: ExecutionContext,
  call: () => Promise<unknown>,
  errorCode: string,
  message: RegExp,
): Promise<void> {
  const before = await node.diskFingerprint();
  const boots = (await node.node.boots()).length;
  const error = await t.throwsAsync<ServiceError>(call());
  t.is(error.code, grpcStatus.FAILED_PRECONDITION, error.message);
  t.deepEqual(error.metadata.get('metropolis-error-code'), [errorCode]);
  t.regex(error.details, message);
  t.deepEqual(await node.diskFingerprint(), before, 'slots, ESP and efivars are byte-identical');
  t.is((await node.node.boots()).length, boots, 'nothing rebooted');
}

test.serial(
  'the development key is refused unless the node parameters say development',
  async (t) => {
    const parameters = new NodeLayout(agentRoots(node.node.layout)).parameters;
    const original = await readFile(parameters, 'utf8');
    const { development: _development, ...production } = JSON.parse(original) as Record<
      string,
      unknown
    >;
    await writeFile(parameters, JSON.stringify(production));
    try {
      await refused(
        t,
        () => node.stage(server.file('/dev-key', v2.bundle), v2.sha256),
        'AGENT_DEV_KEY_REFUSED',
        /signed with the development release key \(b11222d811dc7d2e\).*"development": true/,
      );
    } finally {
      await writeFile(parameters, original);
    }
  },
);

test.serial(
  'after committing epoch 1, an epoch-0 bundle and a Rollback to it are refused',
  async (t) => {
    await node.stage(server.file('/v2', v2.bundle), v2.sha256);
    await node.setNextBoot(Slot.SLOT_B);
    await node.reboot();
    await node.waitFor((s) => s.version === 'v0.2.0' && s.boot?.trial === true, 30_000);
    // Before the commit, going back is still allowed: only a committed epoch counts.
    await node.commitBoot();

    await refused(
      t,
      () => node.rollback(),
      'AGENT_DOWNGRADE_REFUSED',
      /slot A holds a release of security epoch 0, below the epoch 1 this node has committed/,
    );
    await refused(
      t,
      () => node.setNextBoot(Slot.SLOT_A),
      'AGENT_DOWNGRADE_REFUSED',
      /slot A holds a release of security epoch 0/,
    );
    await refused(
      t,
      () => node.stage(server.file('/v1', v1.bundle), v1.sha256),
      'AGENT_DOWNGRADE_REFUSED',
      /bundle v0\.1\.0 has security epoch 0, below the epoch 1 this node has committed/,
    );
  },
);

test.serial('with allowDowngrade the older bundle is staged, booted and committed', async (t) => {
  const progress = await node.stage(server.file('/v1-allowed', v1.bundle), v1.sha256, '', true);
  t.is(progress.at(-1)?.slot, Slot.SLOT_A);
  await node.setNextBoot(Slot.SLOT_A);
  await node.reboot();
  await node.waitFor((s) => s.version === 'v0.1.0' && s.boot?.trial === true, 30_000);
  const committed = await node.commitBoot();
  t.deepEqual(committed.bootOrder, [Slot.SLOT_A, Slot.SLOT_B]);
  // The owner's downgrade is now the committed epoch: v0.2.0 is an upgrade again, v0.1.0 a peer.
  await node.stage(server.file('/v2-again', v2.bundle), v2.sha256);
  t.pass();
});
