// Loading the kubeconfig: a file the YAML parser rejects, a missing file and a missing context
// each give one METROCTL_CONFIG line (main prints it as is).
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetroctlError } from '../errors.js';
import { loadKubeConfig } from './load-kube-config.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'metroctl-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a malformed kubeconfig is one line with the position, no code frame', async (t) => {
  const path = join(await tempDir(t), 'config');
  await writeFile(path, 'apiVersion: v1\nclusters: [\n');
  const error = t.throws(() => loadKubeConfig(path, 'metroctl'), { instanceOf: MetroctlError });
  t.is(error.code, 'METROCTL_CONFIG');
  t.is(
    error.message,
    `cannot load kubeconfig ${path}: unexpected end of the stream within a flow collection (3:1)`,
  );
});

test('a missing kubeconfig or context says what to run', async (t) => {
  const dir = await tempDir(t);
  const missing = t.throws(() => loadKubeConfig(join(dir, 'none'), 'metroctl'), {
    instanceOf: MetroctlError,
  });
  t.is(missing.code, 'METROCTL_CONFIG');
  t.regex(missing.message, /^no kubeconfig at .*none: bootstrap a cluster or run metroctl k8s/);

  const path = join(dir, 'config');
  await writeFile(path, 'apiVersion: v1\nkind: Config\n');
  const noContext = t.throws(() => loadKubeConfig(path, 'metroctl'), {
    instanceOf: MetroctlError,
  });
  t.is(noContext.code, 'METROCTL_CONFIG');
  t.is(
    noContext.message,
    `no context "metroctl" in ${path}: run metroctl k8s configure, or pass --context`,
  );
});
