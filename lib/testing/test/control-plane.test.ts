// The harness against real binaries: a CRD goes in, a custom resource comes back through a
// watch, and stop() leaves no process and no file behind.
import test from 'ava';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubeConfig,
  Watch,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { ControlPlane, controlPlaneBinariesFrom, readyz } from '@metropolis/testing';

const group = 'harness.metropolis.monogon.dev';

const widgetCrd: V1CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `widgets.${group}` },
  spec: {
    group,
    scope: 'Cluster',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [
      {
        name: 'v1alpha1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: { size: { type: 'integer', minimum: 1 } },
                required: ['size'],
              },
            },
          },
        },
      },
    ],
  },
};

interface Widget {
  metadata?: { name?: string; uid?: string };
  spec?: { size?: number };
}

async function untilEstablished(api: ApiextensionsV1Api, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const crd = await api.readCustomResourceDefinition({ name });
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    if (established?.status === 'True') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`CRD ${name} never became Established`);
}

/**
 * The resourceVersion of a list of widgets, retried while the new CRD's storage still answers
 * 429 (it does for a moment after Established).
 */
async function listedResourceVersion(objects: CustomObjectsApi): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const listed = (await objects.listClusterCustomObject({
        group,
        version: 'v1alpha1',
        plural: 'widgets',
      })) as { metadata?: { resourceVersion?: string } };
      return listed.metadata?.resourceVersion ?? '';
    } catch (error) {
      if (attempt >= 50 || !(error instanceof ApiException) || error.code !== 429) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Whether something accepts TCP connections at the host and port of `url`, or the error code. */
function tcpAnswer(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

/**
 * Opens a watch, retrying while the new CRD's watch cache still answers 429 (it does for a
 * moment after Established), as informers do. client-node reports a refused watch through
 * the done callback before watch() resolves.
 */
async function watchWidgets(
  kc: KubeConfig,
  resourceVersion: string,
  onEvent: (type: string, object: Widget) => void,
  onError: (error: Error) => void,
): Promise<AbortController> {
  for (let attempt = 0; ; attempt++) {
    let refused: unknown;
    let open = false;
    const controller = await new Watch(kc).watch(
      `/apis/${group}/v1alpha1/widgets`,
      { resourceVersion },
      onEvent,
      (error: unknown) => {
        if (!open) refused = error;
        else if (error instanceof Error) onError(error);
      },
    );
    if (refused === undefined) {
      open = true;
      return controller;
    }
    const status = (refused as { statusCode?: number }).statusCode;
    if (attempt >= 50 || status !== 429) {
      throw new Error(`watch refused (HTTP ${String(status)})`, { cause: refused });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a custom resource created through the API arrives through a watch', async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  t.teardown(() => controlPlane.stop());
  t.log(`control plane ready in ${String(controlPlane.startupMs)} ms`);

  const kc = new KubeConfig();
  kc.loadFromString(await controlPlane.kubeconfig());
  const crds = kc.makeApiClient(ApiextensionsV1Api);
  await crds.createCustomResourceDefinition({ body: widgetCrd });
  await untilEstablished(crds, `widgets.${group}`);

  // As informers do: list, then watch from the list's resourceVersion, so an object created in
  // between arrives however late the watch opens.
  const objects = kc.makeApiClient(CustomObjectsApi);
  const resourceVersion = await listedResourceVersion(objects);
  t.not(resourceVersion, '');
  const created = (await objects.createClusterCustomObject({
    group,
    version: 'v1alpha1',
    plural: 'widgets',
    body: {
      apiVersion: `${group}/v1alpha1`,
      kind: 'Widget',
      metadata: { name: 'w1' },
      spec: { size: 3 },
    },
  })) as Widget;

  const event = await new Promise<{ type: string; object: Widget }>((resolve, reject) => {
    watchWidgets(
      kc,
      resourceVersion,
      (type, object) => {
        resolve({ type, object });
      },
      reject,
    ).then((watch) => {
      t.teardown(() => {
        watch.abort();
      });
    }, reject);
  });
  t.is(event.type, 'ADDED');
  t.is(event.object.metadata?.name, 'w1');
  t.is(event.object.spec?.size, 3);
  t.is(event.object.metadata?.uid, created.metadata?.uid);
});

test('the API server enforces the CRD schema', async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  t.teardown(() => controlPlane.stop());
  const kc = new KubeConfig();
  kc.loadFromString(await controlPlane.kubeconfig());
  const crds = kc.makeApiClient(ApiextensionsV1Api);
  await crds.createCustomResourceDefinition({ body: widgetCrd });
  await untilEstablished(crds, `widgets.${group}`);

  const error = await t.throwsAsync(
    kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
      group,
      version: 'v1alpha1',
      plural: 'widgets',
      body: {
        apiVersion: `${group}/v1alpha1`,
        kind: 'Widget',
        metadata: { name: 'w0' },
        spec: { size: 0 },
      },
    }),
    { instanceOf: ApiException },
  );
  t.is(error.code, 422, 'Unprocessable: refused by validation');
  t.regex(
    error.message,
    /spec\.size: Invalid value: 0: spec\.size in body should be greater than or equal to 1/,
  );
});

test('stop() ends both processes and removes every file', async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  t.teardown(() => controlPlane.stop());
  t.is(await readyz(controlPlane.server, controlPlane.admin), 'ok');
  const kubeconfigPath = controlPlane.kubeconfigPath;
  t.true(existsSync(kubeconfigPath));

  t.is(await tcpAnswer(controlPlane.etcdEndpoint), 'connected', 'etcd listens');

  await controlPlane.stop();
  t.false(existsSync(kubeconfigPath));
  await t.throwsAsync(readyz(controlPlane.server, controlPlane.admin), { code: 'ECONNREFUSED' });
  t.is(await tcpAnswer(controlPlane.etcdEndpoint), 'ECONNREFUSED', 'etcd is gone too');
  await controlPlane.stop();
});
