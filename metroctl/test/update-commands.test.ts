// metroctl's update commands against a real kube-apiserver with the real OSUpdate CRD, run as a
// user runs them. No operator runs here: the test writes the statuses an operator would, through
// the status subresource, and checks what the CLI does with them: serving a bundle file exactly
// as long as nodes need it, the API's own validation messages, status output, pause and resume.
import anyTest, { type TestFn } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import {
  osUpdateGroup,
  osUpdatePlural,
  osUpdateVersion,
  type OSUpdateStatus,
} from '@metropolis/api';
import { ControlPlane, controlPlaneBinariesFrom, neverWithin } from '@metropolis/testing';
import { parse } from 'yaml';
import { fieldManagersOf } from './field-managers.js';
import {
  createOSUpdate,
  findOSUpdate,
  installOSUpdateCrd,
  setOSUpdateStatus,
} from './os-update-fixture.js';
import { runMetroctl, startMetroctl } from './run-metroctl.js';

const osUpdateResource = { group: osUpdateGroup, version: osUpdateVersion, plural: osUpdatePlural };

interface Context {
  controlPlane: ControlPlane;
  kc: KubeConfig;
  home: string;
  /** A bundle file: random bytes, so its digest is known only from the content. */
  bundle: string;
  bundleBytes: Buffer;
  /** --kubeconfig and --context of the harness admin. */
  access: string[];
}

const test = anyTest as TestFn<Context>;

const digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const nodeA = 'metropolis-067651202d00b79fffe92df0001aabff';
const nodeB = 'metropolis-ec101152c48c5f761534c1910cf66200';

test.before(async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  const kc = new KubeConfig();
  kc.loadFromString(await controlPlane.kubeconfig());
  await installOSUpdateCrd(kc);
  const home = await mkdtemp(join(tmpdir(), 'metroctl-home-'));
  const bundleBytes = randomBytes(256 * 1024);
  const bundle = join(home, 'metropolis-0.2.0.bundle');
  await writeFile(bundle, bundleBytes);
  t.context = {
    controlPlane,
    kc,
    home,
    bundle,
    bundleBytes,
    access: ['--kubeconfig', controlPlane.kubeconfigPath, '--context', 'harness'],
  };
});

test.after.always(async (t) => {
  // t.context is unset when the before hook failed half-way; ControlPlane cleans up at exit.
  const context = t.context as Partial<Context>;
  await context.controlPlane?.stop();
  if (context.home !== undefined) await rm(context.home, { recursive: true, force: true });
});

const metroctl = (t: { context: Context }, ...args: string[]) =>
  runMetroctl([...t.context.access, ...args], t.context.home);

/** GET `url`: the body, or the network error's code (ECONNREFUSED once nothing serves it). */
function fetchBytes(url: string): Promise<Buffer | string> {
  return new Promise((resolve) => {
    get(url, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        resolve(Buffer.concat(chunks));
      });
    }).on('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

test.serial('apply FILE serves the file until every node is past staging', async (t) => {
  const { kc, bundle, bundleBytes } = t.context;
  const run = startMetroctl(
    [
      ...t.context.access,
      // The address towards the first node: a loopback "node" gives a loopback address.
      '--endpoints',
      '127.0.0.1',
      'update',
      'apply',
      '--bundle',
      bundle,
      '--version',
      '0.2.0',
      '--name',
      'to-0.2.0',
      '--max-unavailable',
      '50%',
    ],
    t.context.home,
  );
  t.teardown(() => {
    if (run.running()) run.interrupt();
  });
  await run.waitForStderr(/Serving the bundle until every selected node has staged it/);
  const update = await eventually('the OSUpdate', () => findOSUpdate(kc, 'to-0.2.0'));
  t.is(update.spec.version, '0.2.0');
  t.is(update.spec.strategy?.maxUnavailable, '50%');
  t.regex(update.spec.bundle.url, /^http:\/\/127\.0\.0\.1:\d+\/bundles\/[0-9a-f]{64}\.bundle$/);
  t.is(update.spec.bundle.sha256, sha256(bundleBytes));
  const served = await fetchBytes(update.spec.bundle.url);
  t.true(Buffer.isBuffer(served) && served.equals(bundleBytes), 'the exact file bytes');
  t.is(run.stdout(), 'Created OSUpdate to-0.2.0 (version 0.2.0).\n');
  t.deepEqual(await fieldManagersOf(kc, osUpdateResource, 'to-0.2.0', ['spec', 'version']), [
    'metroctl',
  ]);

  // One node staging, one pending: the file is still needed.
  await setOSUpdateStatus(kc, 'to-0.2.0', {
    observedGeneration: 1,
    phase: 'Staging',
    updated: '0/2',
    nodes: [
      { node: nodeA, phase: 'Staging' },
      { node: nodeB, phase: 'Pending', reason: 'WaitingForBudget' },
    ],
  });
  await run.waitForStderr(/to-0\.2\.0: Staging, 0\/2 updated; 2 nodes \(1 staging, 1 pending\)/);
  t.true(run.running());

  await setOSUpdateStatus(kc, 'to-0.2.0', {
    observedGeneration: 1,
    phase: 'Succeeded',
    updated: '2/2',
    nodes: [
      { node: nodeA, phase: 'Committed' },
      { node: nodeB, phase: 'Committed' },
    ],
  });
  t.is(await run.exited, 0, run.stderr());
  t.regex(
    run.stderr(),
    /OSUpdate to-0\.2\.0 is Succeeded; stopped serving .*metropolis-0\.2\.0\.bundle\.\n$/,
  );
  t.is(await fetchBytes(update.spec.bundle.url), 'ECONNREFUSED');
});

test.serial('apply FILE: Ctrl-C stops serving and says the update still needs it', async (t) => {
  const { kc, bundle } = t.context;
  const run = startMetroctl(
    [
      ...t.context.access,
      'update',
      'apply',
      '--bundle',
      bundle,
      '--version',
      '0.2.1',
      '--name',
      'to-0.2.1',
      '--serve-address',
      '127.0.0.1',
    ],
    t.context.home,
  );
  await run.waitForStderr(/Ctrl-C stops serving/);
  const update = await eventually('the OSUpdate', () => findOSUpdate(kc, 'to-0.2.1'));
  t.true(Buffer.isBuffer(await fetchBytes(update.spec.bundle.url)));
  run.interrupt();
  t.is(await run.exited, 130);
  t.regex(run.stderr(), /Stopped serving .*\. OSUpdate to-0\.2\.1 still needs it/);
  t.is(await fetchBytes(update.spec.bundle.url), 'ECONNREFUSED');
});

test.serial('apply FILE without an address towards the nodes is a config error', async (t) => {
  const run = await metroctl(t, 'update', 'apply', '--bundle', t.context.bundle, '--version', '1');
  t.is(run.code, 9);
  t.regex(
    run.stderr,
    /^metroctl: cannot tell the address the nodes reach this machine by .*--serve-address/,
  );
});

test.serial('the API server refuses what the CRD forbids, in its own words (exit 6)', async (t) => {
  const url = await metroctl(
    t,
    'update',
    'apply',
    '--bundle',
    'https://releases.example.com/0.3.0.bundle',
    '--sha256',
    digest,
    '--version',
    '0.3.0',
    '--name',
    'bad-timeout',
    '--boot-timeout',
    'ten minutes',
  );
  t.is(url.code, 6);
  t.is(
    url.stderr,
    'metroctl: cannot create OSUpdate bad-timeout: spec.strategy.bootTimeout: Invalid value: ' +
      '"ten minutes": bootTimeout must be a duration of more than zero such as 90s, 10m or 1h30m ' +
      '(units h, m, s)\n',
  );
  t.is(await findOSUpdate(t.context.kc, 'bad-timeout'), undefined);

  // With a file, the refusal also ends the serving: metroctl exits instead of waiting.
  const file = await metroctl(
    t,
    'update',
    'apply',
    '--bundle',
    t.context.bundle,
    '--serve-address',
    '127.0.0.1',
    '--version',
    '0.3.0',
    '--name',
    'bad-selector',
    '--selector',
    'example.com/rack=-r1-',
  );
  t.is(file.code, 6);
  t.regex(
    file.stderr,
    /^Serving .*\nmetroctl: cannot create OSUpdate bad-selector: spec\.nodeSelector\.matchLabels: Invalid value: .*matchLabels values must be label values/,
  );
});

test.serial('flags are checked before anything is sent (exit 2)', async (t) => {
  const apply = (...flags: string[]) =>
    metroctl(t, 'update', 'apply', '--version', '0.3.0', '--name', 'never', ...flags);
  const url = 'https://releases.example.com/0.3.0.bundle';
  const badDigest = await apply('--bundle', url, '--sha256', 'not-a-digest');
  t.is(badDigest.code, 2);
  t.regex(badDigest.stderr, /^metroctl: --sha256 must be 64 hexadecimal digits/);
  const noDigest = await apply('--bundle', url);
  t.is(noDigest.code, 2);
  t.regex(noDigest.stderr, /^metroctl: --sha256 is required with a bundle URL/);
  const badBudget = await apply('--bundle', url, '--sha256', digest, '--max-unavailable', '0');
  t.is(badBudget.code, 2);
  t.regex(badBudget.stderr, /^metroctl: --max-unavailable must be a node count of at least 1/);
  const missing = await apply('--bundle', join(t.context.home, 'nope.bundle'));
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no such file/);
  t.is(await findOSUpdate(t.context.kc, 'never'), undefined);
});

/** A rollout half-way, with start times relative to now (ages are checked). */
const progressing = (): OSUpdateStatus => ({
  observedGeneration: 1,
  phase: 'Progressing',
  updated: '1/2',
  summary: `1/2 nodes updated; updating ${nodeB} (Verifying)`,
  nodes: [
    {
      node: nodeA,
      phase: 'Committed',
      fromVersion: '0.1.0',
      toVersion: '0.4.0',
      fromSlot: 'A',
      toSlot: 'B',
      startedAt: new Date(Date.now() - 10 * 60_000).toISOString(),
    },
    {
      node: nodeB,
      phase: 'Verifying',
      fromVersion: '0.1.0',
      toVersion: '0.4.0',
      fromSlot: 'B',
      toSlot: 'A',
      startedAt: new Date(Date.now() - 30_000).toISOString(),
      reason: 'WaitingForHealthy',
      message: 'back on slot A; waiting for its roles',
    },
  ],
  conditions: [
    {
      type: 'Progressing',
      status: 'True',
      reason: 'Progressing',
      message: 'boring',
      lastTransitionTime: new Date().toISOString(),
    },
    {
      type: 'Failed',
      status: 'False',
      reason: 'NoFailure',
      message: 'No node failed.',
      lastTransitionTime: new Date().toISOString(),
    },
  ],
});

test.serial('status: the table, one update in detail, json and yaml', async (t) => {
  const { kc } = t.context;
  const spec = { version: '0.4.0', bundle: { url: 'https://r.example.com/0.4.0', sha256: digest } };
  await createOSUpdate(kc, 'to-0.4.0', spec);
  await setOSUpdateStatus(kc, 'to-0.4.0', progressing());

  const table = await metroctl(t, 'update', 'status');
  t.is(table.code, 0, table.stderr);
  const [header, ...rows] = table.stdout.trimEnd().split('\n');
  t.is(header?.split(/ {3,}/).join('|'), 'NAME|VERSION|PHASE|UPDATED|AGE|SUMMARY');
  const row = rows.find((line) => line.startsWith('to-0.4.0 '));
  t.deepEqual(row?.split(/\s+/).slice(0, 4), ['to-0.4.0', '0.4.0', 'Progressing', '1/2']);
  t.true(row?.endsWith(`1/2 nodes updated; updating ${nodeB} (Verifying)`));
  // The updates of the tests before are listed too, oldest first.
  t.deepEqual(
    rows.map((line) => line.split(/\s+/)[0]),
    ['to-0.2.0', 'to-0.2.1', 'to-0.4.0'],
  );

  const one = await metroctl(t, 'update', 'status', 'to-0.4.0');
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, /^Name: {5}to-0\.4\.0\nVersion: {2}0\.4\.0\nPhase: {4}Progressing\n/);
  t.false(one.stdout.includes('Conditions:'), 'only boring conditions');
  const nodeTable = one.stdout.slice(one.stdout.indexOf('NODE ')).trimEnd().split('\n');
  t.is(nodeTable[0]?.split(/ {3,}/).join('|'), 'NODE|PHASE|FROM|TO|SLOT|STARTED|REASON/MESSAGE');
  t.deepEqual(nodeTable[1]?.split(/\s+/), [
    nodeA,
    'Committed',
    '0.1.0',
    '0.4.0',
    'A→B',
    '10m',
    '-',
  ]);
  t.deepEqual(nodeTable[2]?.split(/\s+/).slice(0, 5), [
    nodeB,
    'Verifying',
    '0.1.0',
    '0.4.0',
    'B→A',
  ]);
  // Started 30 s before the status was written; allow for a slow machine.
  t.regex(
    nodeTable[2] ?? '',
    /B→A {4}\d{2}s {2,}WaitingForHealthy: back on slot A; waiting for its roles$/,
  );

  const json = await metroctl(t, 'update', 'status', '-o', 'json');
  t.is(json.code, 0, json.stderr);
  const list: unknown = JSON.parse(json.stdout);
  t.like(list, { apiVersion: 'v1', kind: 'List' });
  const single = await metroctl(t, 'update', 'status', 'to-0.4.0', '-o', 'yaml');
  t.false(json.stdout.includes('managedFields') || single.stdout.includes('managedFields'));
  t.like(parse(single.stdout), {
    kind: 'OSUpdate',
    metadata: { name: 'to-0.4.0' },
    status: { phase: 'Progressing', updated: '1/2' },
  });

  const unknown = await metroctl(t, 'update', 'status', 'nope');
  t.is(unknown.code, 4);
  t.is(unknown.stderr, 'metroctl: OSUpdate nope not found\n');
});

test.serial(
  'status --watch off a terminal: a block per change, then exit at the end',
  async (t) => {
    const { kc } = t.context;
    const spec = {
      version: '0.5.0',
      bundle: { url: 'https://r.example.com/0.5.0', sha256: digest },
    };
    await createOSUpdate(kc, 'to-0.5.0', spec);
    await setOSUpdateStatus(kc, 'to-0.5.0', progressing());
    const watch = startMetroctl(
      [...t.context.access, 'update', 'status', 'to-0.5.0', '-w'],
      t.context.home,
    );
    await eventually('the first block', () =>
      Promise.resolve(watch.stdout().includes('Progressing') ? true : undefined),
    );
    // Nothing changes for a few polls: nothing more is printed, though ages tick.
    await neverWithin(2_500, () => {
      const blocks = watch.stdout().split('Name:').length - 1;
      return blocks === 1 ? undefined : `${String(blocks)} blocks printed without a change`;
    });
    await setOSUpdateStatus(kc, 'to-0.5.0', {
      ...progressing(),
      phase: 'Halted',
      summary: `${nodeB} did not become healthy in time`,
      conditions: [
        {
          type: 'Failed',
          status: 'True',
          reason: 'HealthTimeout',
          message: `${nodeB} did not become healthy within 5m`,
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    });
    // A watch that ends Halted fails (exit 1), after printing the last state.
    t.is(await watch.exited, 1, watch.stderr());
    const blocks = watch.stdout().split('\n\nName:');
    t.is(blocks.length, 2);
    t.regex(blocks[1] ?? '', /Phase: {4}Halted\n/);
    t.regex(blocks[1] ?? '', /Conditions:\n {2}Failed=True HealthTimeout: .* within 5m\n/);
    t.false(watch.stdout().includes('\x1b'), 'no escape codes off a terminal');
    t.is(
      watch.stderr(),
      `metroctl: OSUpdate to-0.5.0 ended Halted: ${nodeB} did not become healthy in time\n`,
    );
  },
);

test.serial('pause and resume flip spec.paused', async (t) => {
  const { kc } = t.context;
  const spec = { version: '0.6.0', bundle: { url: 'https://r.example.com/0.6.0', sha256: digest } };
  await createOSUpdate(kc, 'to-0.6.0', spec);
  const paused = await metroctl(t, 'update', 'pause', 'to-0.6.0');
  t.is(paused.code, 0, paused.stderr);
  t.is(paused.stdout, 'Paused OSUpdate to-0.6.0: no further node starts; nodes underway finish.\n');
  t.true((await findOSUpdate(kc, 'to-0.6.0'))?.spec.paused);
  t.deepEqual(await fieldManagersOf(kc, osUpdateResource, 'to-0.6.0', ['spec', 'paused']), [
    'metroctl',
  ]);
  const again = await metroctl(t, 'update', 'pause', 'to-0.6.0');
  t.is(again.stdout, 'OSUpdate to-0.6.0 is already paused.\n');

  const resumed = await metroctl(t, 'update', 'resume', 'to-0.6.0');
  t.is(resumed.code, 0, resumed.stderr);
  t.is(resumed.stdout, 'Resumed OSUpdate to-0.6.0.\n');
  t.false((await findOSUpdate(kc, 'to-0.6.0'))?.spec.paused);
  const notPaused = await metroctl(t, 'update', 'resume', 'to-0.6.0');
  t.is(notPaused.stdout, 'OSUpdate to-0.6.0 is not paused.\n');

  for (const verb of ['pause', 'resume']) {
    const unknown = await metroctl(t, 'update', verb, 'nope');
    t.is(unknown.code, 4);
    t.is(unknown.stderr, 'metroctl: OSUpdate nope not found\n');
  }
});
