// The launcher behind hack/launch-cluster.sh until the multi-node launcher lands: one real
// etcd + kube-apiserver, the kubectl command that reaches them, and a clean stop on Ctrl-C.
import { ControlPlane, controlPlaneBinariesFrom } from '@metropolis/testing';

const kubectl = process.env['METROPOLIS_KUBECTL'] ?? 'kubectl';
const controlPlane = await ControlPlane.start({
  binaries: controlPlaneBinariesFrom(process.env),
  contextName: 'launch-cluster',
});

const stop = (): void => {
  process.stderr.write('Launch: stopping...\n');
  controlPlane.stop().then(
    () => {
      process.stderr.write('Launch: stopped, nothing left behind.\n');
    },
    (error: unknown) => {
      process.stderr.write(`Launch: stop failed: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

process.stdout.write(
  [
    `Launch: Control plane running! (ready in ${String(controlPlane.startupMs)} ms)`,
    `  To access Kubernetes, use: ${kubectl} --kubeconfig ${controlPlane.kubeconfigPath} --context=launch-cluster`,
    `  For example:               ${kubectl} --kubeconfig ${controlPlane.kubeconfigPath} --context=launch-cluster get --raw /readyz`,
    '  Press Ctrl-C to stop.',
    '',
  ].join('\n'),
);
// Keeps the event loop alive until a signal arrives; stop() lets the process end by itself.
const keepAlive = setInterval(() => undefined, 1 << 30);
process.once('SIGINT', () => {
  clearInterval(keepAlive);
});
process.once('SIGTERM', () => {
  clearInterval(keepAlive);
});
