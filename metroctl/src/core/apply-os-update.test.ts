// `update apply` against a fake API and a fake bundle server: a URL is created as given; a file
// is served on the right address, the update points at it, and serving stops (the server is
// closed) when the nodes are past staging, on Ctrl-C, and on every failure.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OSUpdate, OSUpdateSpec, OSUpdateStatus } from '@metropolis/api';
import { MetroctlError } from '../errors.js';
import { applyOSUpdate, type ApplyOSUpdateOptions, type BundleServer } from './apply-os-update.js';
import type { BundleNeed } from './bundle-still-needed.js';
import { parseOSUpdateRequest, type ApplyFlags } from './os-update-request.js';

const digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** An API whose update goes through `statuses`, one per read (the last one repeats). */
function fakeApi(statuses: (OSUpdateStatus | Error)[] = []) {
  const created: { name: string; spec: OSUpdateSpec }[] = [];
  let reads = 0;
  const object = (name: string, spec: OSUpdateSpec, status?: OSUpdateStatus): OSUpdate => ({
    apiVersion: 'metropolis.monogon.dev/v1alpha1',
    kind: 'OSUpdate',
    metadata: { name, generation: 1 },
    spec,
    ...(status === undefined ? {} : { status }),
  });
  return {
    created,
    reads: () => reads,
    api: {
      create: (name: string, spec: OSUpdateSpec): Promise<OSUpdate> => {
        created.push({ name, spec });
        return Promise.resolve(object(name, spec));
      },
      get: (name: string): Promise<OSUpdate> => {
        const next = statuses[Math.min(reads++, statuses.length - 1)];
        const first = created[0];
        if (next instanceof Error) return Promise.reject(next);
        if (first === undefined) return Promise.reject(new Error('not created'));
        return Promise.resolve(object(name, first.spec, next));
      },
    },
  };
}

interface ServerState {
  host: string | undefined;
  served: string[];
  closed: number;
}

function fakeServer() {
  const state: ServerState = { host: undefined, served: [], closed: 0 };
  const start = (host: string): Promise<BundleServer> => {
    state.host = host;
    return Promise.resolve({
      serve: (file: string) => {
        state.served.push(file);
        return Promise.resolve({
          url: `http://${host}:4000/bundles/${digest}.bundle`,
          sha256: digest,
          size: 5,
        });
      },
      close: () => {
        state.closed++;
        return Promise.resolve();
      },
    });
  };
  return { state, start };
}

async function bundleFile(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'metroctl-apply-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, '0.2.0.bundle');
  await writeFile(file, 'hello');
  return file;
}

function options(
  flags: ApplyFlags,
  api: ReturnType<typeof fakeApi>['api'],
  extra: Partial<ApplyOSUpdateOptions> = {},
): ApplyOSUpdateOptions {
  return {
    updates: api,
    request: parseOSUpdateRequest(flags),
    serveAddress: () => Promise.resolve('10.1.0.9'),
    signal: new AbortController().signal,
    pollIntervalMs: 1,
    ...extra,
  };
}

const node = (name: string, phase: NonNullable<OSUpdateStatus['nodes']>[number]['phase']) => ({
  node: name,
  ...(phase === undefined ? {} : { phase }),
});

test('a URL is created as given, nothing is served', async (t) => {
  const { api, created, reads } = fakeApi();
  const server = fakeServer();
  const outcome = await applyOSUpdate(
    options(
      { bundle: 'https://r.example.com/b', version: '0.2.0', sha256: digest, name: 'to-0.2.0' },
      api,
      { startServer: server.start },
    ),
  );
  t.is(outcome.kind, 'created');
  t.deepEqual(created, [
    {
      name: 'to-0.2.0',
      spec: { version: '0.2.0', bundle: { url: 'https://r.example.com/b', sha256: digest } },
    },
  ]);
  t.is(server.state.host, undefined);
  t.is(reads(), 0);
});

test('a file is served until every node is past staging, then the server closes', async (t) => {
  const file = await bundleFile(t);
  const { api, created } = fakeApi([
    {},
    { phase: 'Staging', nodes: [node('a', 'Staging'), node('b', 'Pending')] },
    { phase: 'Staging', nodes: [node('a', 'Staging'), node('b', 'Pending')] },
    { phase: 'Progressing', nodes: [node('a', 'Staged'), node('b', 'Staging')] },
    { phase: 'Progressing', nodes: [node('a', 'Rebooting'), node('b', 'Staged')] },
  ]);
  const server = fakeServer();
  const progress: BundleNeed[] = [];
  const outcome = await applyOSUpdate(
    options({ bundle: file, version: '0.2.0', paused: true }, api, {
      startServer: server.start,
      onProgress: (_update, need) => progress.push(need),
    }),
  );
  t.is(outcome.kind, 'served');
  t.is(server.state.host, '10.1.0.9', 'the address towards the nodes');
  t.deepEqual(server.state.served, [file]);
  t.is(server.state.closed, 1);
  t.regex(created[0]?.name ?? '', /^os-0\.2\.0-[a-z0-9]{5}$/);
  t.deepEqual(created[0]?.spec, {
    version: '0.2.0',
    bundle: { url: `http://10.1.0.9:4000/bundles/${digest}.bundle`, sha256: digest },
    paused: true,
  });
  // One line per change: the repeated Staging read printed nothing.
  t.deepEqual(
    progress.map((need) => need.reason),
    ['not-started', 'nodes-to-stage', 'nodes-to-stage', 'all-staged'],
  );
});

test('--serve-address wins; a matching --sha256 is accepted', async (t) => {
  const file = await bundleFile(t);
  const { api } = fakeApi([{ phase: 'Succeeded', nodes: [node('a', 'Committed')] }]);
  const server = fakeServer();
  const outcome = await applyOSUpdate(
    options({ bundle: file, version: '1', serveAddress: '10.1.0.1', sha256: digest }, api, {
      startServer: server.start,
      serveAddress: () => Promise.reject(new Error('not asked')),
    }),
  );
  t.like(outcome, { kind: 'served', need: { reason: 'finished' } });
  t.is(server.state.host, '10.1.0.1');
});

test('a --sha256 the file does not have: nothing is created', async (t) => {
  const file = await bundleFile(t);
  const { api, created } = fakeApi();
  const server = fakeServer();
  const error = await t.throwsAsync(
    applyOSUpdate(
      options({ bundle: file, version: '1', sha256: 'a'.repeat(64) }, api, {
        startServer: server.start,
      }),
    ),
    { instanceOf: MetroctlError, message: new RegExp(`has sha256 ${digest}, not a{64}`) },
  );
  t.is(error.code, 'METROCTL_USAGE');
  t.deepEqual(created, []);
  t.is(server.state.closed, 1);
});

test('a refused create stops serving and keeps the API error', async (t) => {
  const file = await bundleFile(t);
  const server = fakeServer();
  const refusal = new MetroctlError('METROCTL_REJECTED', 'cannot create OSUpdate x: invalid');
  const api = { create: () => Promise.reject(refusal), get: () => Promise.reject(refusal) };
  await t.throwsAsync(
    applyOSUpdate({
      ...options({ bundle: file, version: '1' }, fakeApi().api, { startServer: server.start }),
      updates: api,
    }),
    { is: refusal },
  );
  t.is(server.state.closed, 1);
});

test('Ctrl-C stops serving and reports what the nodes still need', async (t) => {
  const file = await bundleFile(t);
  const { api } = fakeApi([{ phase: 'Staging', nodes: [node('a', 'Staging')] }]);
  const server = fakeServer();
  const controller = new AbortController();
  const outcome = await applyOSUpdate(
    options({ bundle: file, version: '1' }, api, {
      startServer: server.start,
      signal: controller.signal,
      onProgress: () => {
        controller.abort();
      },
    }),
  );
  t.like(outcome, { kind: 'interrupted', need: { needed: true, staging: 1 } });
  t.is(server.state.closed, 1);
});

test('an unreachable API is read again; other errors end serving', async (t) => {
  const file = await bundleFile(t);
  const blip = new MetroctlError('METROCTL_UNREACHABLE', 'cannot read OSUpdate x: unreachable');
  const { api } = fakeApi([blip, { phase: 'Halted', nodes: [node('a', 'Failed')] }]);
  const retried: MetroctlError[] = [];
  const outcome = await applyOSUpdate(
    options({ bundle: file, version: '1' }, api, {
      startServer: fakeServer().start,
      onRetry: (error) => retried.push(error),
    }),
  );
  t.is(outcome.kind, 'served');
  t.deepEqual(retried, [blip]);

  const gone = new MetroctlError('METROCTL_NOT_FOUND', 'OSUpdate x not found');
  const server = fakeServer();
  await t.throwsAsync(
    applyOSUpdate(
      options({ bundle: file, version: '1' }, fakeApi([gone]).api, { startServer: server.start }),
    ),
    { is: gone },
  );
  t.is(server.state.closed, 1);
});

test('a missing file or a directory is a usage error', async (t) => {
  const file = await bundleFile(t);
  for (const bundle of [`${file}.missing`, join(file, '..')]) {
    const error = await t.throwsAsync(
      applyOSUpdate(options({ bundle, version: '1' }, fakeApi().api)),
      { instanceOf: MetroctlError },
    );
    t.is(error.code, 'METROCTL_USAGE', bundle);
  }
});
