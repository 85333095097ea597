// RoleService's stop: SIGTERM first, SIGKILL once the grace the caller gives has passed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { silentLogger } from '@metropolis/logging';
import { Supervisor } from '@metropolis/supervisor';
import { RoleService } from './role-service.js';

/** A service running `script` under sh, torn down with the test. */
async function started(t: ExecutionContext, script: string): Promise<RoleService> {
  const dir = await mkdtemp(join(tmpdir(), 'role-service-'));
  const root = new AbortController();
  t.teardown(async () => {
    root.abort();
    await rm(dir, { recursive: true, force: true });
  });
  const tree = new Supervisor(root.signal);
  const service = RoleService.start(
    { name: 'svc', command: '/bin/sh', args: ['-c', script], logDir: dir },
    tree,
    silentLogger,
  );
  while (!service.state.running) await new Promise((resolve) => setTimeout(resolve, 10));
  return service;
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
