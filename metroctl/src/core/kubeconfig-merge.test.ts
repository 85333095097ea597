// Merging the metroctl context into a kubeconfig: other contexts, the current context and
// comments survive; the same name is replaced, not duplicated; non-kubeconfigs are refused.
import test from 'ava';
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { MetroctlError } from '../errors.js';
import { mergeKubeconfig, writeKubeconfigEntry, type KubeconfigEntry } from './kubeconfig-merge.js';

const entry: KubeconfigEntry = {
  name: 'metroctl',
  server: 'https://10.1.0.2:6443',
  certificateAuthority: '/home/u/.metroctl/ca.pem',
  clientCertificate: '/home/u/.metroctl/owner.pem',
  clientKey: '/home/u/.metroctl/owner-key.pem',
};

const existing = `# my clusters
apiVersion: v1
kind: Config
clusters:
  - name: prod # keep me
    cluster:
      server: https://prod.example:6443
users:
  - name: prod
    user:
      token: secret
contexts:
  - name: prod
    context:
      cluster: prod
      user: prod
current-context: prod
preferences: {}
`;

interface Named {
  name: string;
}

interface Kubeconfig {
  clusters: (Named & { cluster: Record<string, string> })[];
  users: (Named & { user: Record<string, string> })[];
  contexts: (Named & { context: Record<string, string> })[];
  'current-context'?: string;
}

function parsed(text: string): Kubeconfig {
  return parse(text) as Kubeconfig;
}

test('adds the entry next to existing contexts and keeps the current one', (t) => {
  const merged = mergeKubeconfig(existing, entry);
  t.false(merged.replaced);
  t.false(merged.madeCurrent);
  const config = parsed(merged.text);
  t.deepEqual(
    config.contexts.map((context) => context.name),
    ['prod', 'metroctl'],
  );
  t.deepEqual(config.clusters[1], {
    name: 'metroctl',
    cluster: {
      server: 'https://10.1.0.2:6443',
      'certificate-authority': '/home/u/.metroctl/ca.pem',
    },
  });
  t.deepEqual(config.users[1], {
    name: 'metroctl',
    user: {
      'client-certificate': '/home/u/.metroctl/owner.pem',
      'client-key': '/home/u/.metroctl/owner-key.pem',
    },
  });
  t.deepEqual(config.contexts[1], {
    name: 'metroctl',
    context: { cluster: 'metroctl', user: 'metroctl' },
  });
  t.is(config['current-context'], 'prod');
  t.is(config.users[0]?.user.token, 'secret');
  t.true(merged.text.includes('# my clusters'));
  t.true(merged.text.includes('# keep me'));
});

test('replaces an entry of the same name instead of adding a second one', (t) => {
  const once = mergeKubeconfig(existing, entry).text;
  const twice = mergeKubeconfig(once, { ...entry, server: 'https://10.1.0.3:6443' });
  t.true(twice.replaced);
  const config = parsed(twice.text);
  t.is(config.clusters.length, 2);
  t.is(config.users.length, 2);
  t.is(config.contexts.length, 2);
  t.is(config.clusters[1]?.cluster.server, 'https://10.1.0.3:6443');
  t.is(config.clusters[0]?.cluster.server, 'https://prod.example:6443');
});

test('a new kubeconfig gets the entry as its current context', (t) => {
  for (const start of [undefined, '', '# nothing yet\n']) {
    const merged = mergeKubeconfig(start, entry);
    t.true(merged.madeCurrent);
    const config = parsed(merged.text);
    t.is(config['current-context'], 'metroctl');
    t.is(config.contexts.length, 1);
  }
});

test('null lists (as kubectl writes them) are filled in', (t) => {
  const merged = mergeKubeconfig(
    'apiVersion: v1\nkind: Config\nclusters: null\nusers: null\ncontexts: null\n',
    entry,
  );
  t.is(parsed(merged.text).clusters.length, 1);
});

test('refuses to rewrite something that is not a kubeconfig', (t) => {
  for (const text of ['just a string', 'clusters: {a: 1}', 'key: [unclosed']) {
    const error = t.throws(() => mergeKubeconfig(text, entry), { instanceOf: MetroctlError });
    t.is(error.code, 'METROCTL_CONFIG', text);
  }
});

test('writeKubeconfigEntry keeps the file mode, leaves no temp file, creates directories', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'metroctl-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config');
  await writeFile(path, existing, { mode: 0o640 });
  t.deepEqual(await writeKubeconfigEntry(path, entry), { replaced: false, madeCurrent: false });
  t.is((await stat(path)).mode & 0o777, 0o640);
  t.deepEqual(await readdir(dir), ['config']);
  t.is(parsed(await readFile(path, 'utf8')).contexts.length, 2);

  const fresh = join(dir, 'new', '.kube', 'config');
  t.deepEqual(await writeKubeconfigEntry(fresh, entry), { replaced: false, madeCurrent: true });
  t.is((await stat(fresh)).mode & 0o777, 0o600);
});

test('writeKubeconfigEntry leaves a kubeconfig it cannot merge untouched', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'metroctl-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config');
  await writeFile(path, 'contexts: 7\n');
  const error = await t.throwsAsync(writeKubeconfigEntry(path, entry), {
    instanceOf: MetroctlError,
  });
  t.regex(error.message, /config: kubeconfig "contexts" is not a list/);
  t.is(await readFile(path, 'utf8'), 'contexts: 7\n');
});
