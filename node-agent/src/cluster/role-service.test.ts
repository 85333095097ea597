// RoleService's stop: SIGTERM first, SIGKILL once the grace the caller gives has passed; only
// stop() ends the process, not its parent stopping (the roles loop orders the stops).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { silentLogger } from '@metropolis/logging';
import { Supervisor } from '@metropolis/supervisor';
import { eventually, neverWithin } from '@metropolis/testing';
import { RoleService } from './role-service.js';

/** A service running `script` under sh, torn down with the test. */
async function started(
  t: ExecutionContext,
  script: string,
  root = new AbortController(),
  environment?: Readonly<Record<string, string>>,
): Promise<RoleService & { readonly log: () => Promise<string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'role-service-'));
  const service = RoleService.start(
    {
      name: 'svc',
      command: '/bin/sh',
      args: ['-c', script],
      logDir: dir,
      ...(environment === undefined ? {} : { environment }),
    },
    new Supervisor(root.signal),
    silentLogger,
  );
  t.teardown(async () => {
    root.abort();
    await service.stop(100);
    await rm(dir, { recursive: true, force: true });
  });
  while (!service.state.running) await new Promise((resolve) => setTimeout(resolve, 10));
  return Object.assign(service, { log: () => readFile(join(dir, 'svc.log'), 'utf8') });
}

test('a service that ignores SIGTERM is killed once the grace it was given has passed', async (t) => {
  // The shell ignores SIGTERM and waits on a child that ignores it too.
  const service = await started(t, "trap '' TERM; sleep 60 & wait; wait");
  await service.stop(100);
  t.false(service.state.running);
  t.regex(service.state.running ? '' : service.state.why, /signal SIGKILL/);
});

test('a service that exits on SIGTERM stops without being killed', async (t) => {
  const service = await started(t, 'sleep 60 & wait');
  await service.stop(60_000);
  t.regex(service.state.running ? '' : service.state.why, /signal SIGTERM|exit code/);
});

test('its parent stopping leaves the process running until stop(): the roles loop orders stops', async (t) => {
  const root = new AbortController();
  const service = await started(t, 'sleep 60 & wait', root);
  root.abort();
  await neverWithin(500, () =>
    service.state.running ? undefined : `stopped with its parent: ${service.state.why}`,
  );
  await service.stop(60_000);
  t.false(service.state.running);
});

test("a service's environment is the agent's plus the variables its spec sets", async (t) => {
  const service = await started(
    t,
    'echo "arenas=$MALLOC_ARENA_MAX path=${PATH:+set}"; sleep 60 & wait',
    new AbortController(),
    { MALLOC_ARENA_MAX: '2' },
  );
  const log = await eventually(async () => {
    const text = await service.log();
    if (!text.includes('arenas=')) throw new Error('no output yet');
    return text;
  });
  t.regex(log, /arenas=2 path=set/);
});
