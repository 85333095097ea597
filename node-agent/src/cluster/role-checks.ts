// How a role service is judged healthy: it runs, and it answers its own endpoint (etcd a
// quorum read, kube-apiserver /readyz, the operator /healthz).
import { controlPlanePorts } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import type { CheckResult } from '../health/health-book.js';
import type { ServiceState } from './role-service.js';

/**
 * A service's check: failing while it is not started or not running (with why), else whatever
 * `probe` finds; `probe` resolves to the passing message or rejects with the failure.
 */
export async function serviceCheck(
  name: string,
  state: ServiceState | undefined,
  notStarted: string,
  probe: () => Promise<string>,
): Promise<CheckResult> {
  if (state === undefined) return { name, ok: false, message: `not started: ${notStarted}` };
  if (!state.running) return { name, ok: false, message: `not running: ${state.why}` };
  try {
    return { name, ok: true, message: `running (pid ${String(state.pid)}), ${await probe()}` };
  } catch (error) {
    return {
      name,
      ok: false,
      message: `running (pid ${String(state.pid)}), but ${errorMessage(error)}`,
    };
  }
}

/** The failing lines of a verbose /readyz answer (`[-]etcd failed: …`), or the answer itself. */
export function readyFailures(text: string): string {
  const failing = text
    .split('\n')
    .filter((line) => line.startsWith('[-]'))
    .map((line) => line.slice(3));
  return failing.length > 0 ? failing.join(', ') : text === '' ? 'no answer' : text;
}

/** The operator's liveness endpoint, beside its metrics on the node's loopback. */
export async function operatorHealthz(): Promise<void> {
  const url = `http://127.0.0.1:${String(controlPlanePorts.operatorMetrics)}/healthz`;
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url} answered ${String(response.status)}`);
}
