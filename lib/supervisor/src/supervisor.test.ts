import test from 'ava';
import type { Logger } from '@metropolis/logging';
import { Supervisor, untilAborted, type Runnable } from './index.js';

test('a failing runnable is restarted with growing backoff until the signal aborts', async (t) => {
  const controller = new AbortController();
  const delays: number[] = [];
  let runs = 0;
  const supervisor = new Supervisor(controller.signal, {
    minBackoffMs: 5,
    maxBackoffMs: 20,
    onRestart: (_name, _error, delayMs) => {
      delays.push(delayMs);
    },
  });
  supervisor.run('flaky', () => {
    runs++;
    if (runs === 5) controller.abort();
    return Promise.reject(new Error('boom'));
  });
  await supervisor.done();
  t.is(runs, 5);
  t.deepEqual(delays, [5, 10, 20, 20]);
});

test('a runnable that honours the signal stops without a restart', async (t) => {
  const controller = new AbortController();
  let restarts = 0;
  const supervisor = new Supervisor(controller.signal, {
    onRestart: () => {
      restarts++;
    },
  });
  supervisor.run(
    'steady',
    (signal) =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => {
          resolve();
        });
      }),
  );
  setTimeout(() => {
    controller.abort();
  }, 20);
  await supervisor.done();
  t.is(restarts, 0);
});

test('untilAborted resolves when the signal aborts, and at once for an aborted one', async (t) => {
  const controller = new AbortController();
  let done = false;
  const waiting = untilAborted(controller.signal).then(() => {
    done = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.false(done);
  controller.abort();
  await waiting;
  t.true(done);
  await untilAborted(controller.signal);
});

interface Line {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A Logger that keeps its lines, with child fields merged in. */
function recordingLogger(lines: Line[], base: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}): void => {
      lines.push({ level, message, fields: { ...base, ...fields } });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  };
}

/** A runnable that works until its signal aborts. */
const steady: Runnable = (signal) => untilAborted(signal);

test('each runnable gets a logger named by its path, and restarts are logged there', async (t) => {
  const controller = new AbortController();
  const lines: Line[] = [];
  const supervisor = new Supervisor(controller.signal, {
    minBackoffMs: 1,
    log: recordingLogger(lines),
  });
  const roles = supervisor.child('roles');
  let runs = 0;
  roles.run('etcd', (_signal, { log, path }) => {
    runs++;
    log.info('hello', { path });
    if (runs === 2) controller.abort();
    return Promise.reject(new Error('boom'));
  });
  await supervisor.done();
  t.deepEqual(lines, [
    {
      level: 'info',
      message: 'hello',
      fields: { runnable: 'root.roles.etcd', path: 'root.roles.etcd' },
    },
    {
      level: 'error',
      message: 'runnable failed, restarting',
      fields: { runnable: 'root.roles.etcd', error: 'boom', delayMs: 1 },
    },
    {
      level: 'info',
      message: 'hello',
      fields: { runnable: 'root.roles.etcd', path: 'root.roles.etcd' },
    },
  ]);
});

test('readiness: a runnable is starting until it says healthy, and starts over after a restart', async (t) => {
  const controller = new AbortController();
  const supervisor = new Supervisor(controller.signal, { minBackoffMs: 1 });
  const fail = new AbortController();
  let runs = 0;
  supervisor.run('server', async (signal, context) => {
    runs++;
    await Promise.resolve();
    t.is(supervisor.states.get().get('root.server'), 'starting');
    context.healthy();
    await untilAborted(AbortSignal.any([signal, fail.signal]));
    if (!signal.aborted) throw new Error('crashed');
  });
  await supervisor.whenHealthy('server', controller.signal);
  t.is(supervisor.states.get().get('root.server'), 'healthy');
  fail.abort();
  await supervisor.states.until(
    (states) => states.get('root.server') === 'backoff',
    controller.signal,
  );
  await supervisor.whenHealthy('server', controller.signal);
  t.is(runs, 2);
  controller.abort();
  await supervisor.done();
  t.is(supervisor.states.get().get('root.server'), 'stopped');
});

test('a child tree stops with its parent', async (t) => {
  const controller = new AbortController();
  const supervisor = new Supervisor(controller.signal);
  const stopped: string[] = [];
  const child = supervisor.child('roles');
  const grandchild = child.child('etcd');
  for (const [tree, name] of [
    [child, 'a'],
    [grandchild, 'b'],
  ] as const) {
    tree.run(name, async (signal) => {
      await untilAborted(signal);
      stopped.push(`${tree.path}.${name}`);
    });
  }
  controller.abort();
  await supervisor.done();
  t.deepEqual(stopped.sort(), ['root.roles.a', 'root.roles.etcd.b']);
});

test('stopping a child stops only that subtree and frees its name', async (t) => {
  const controller = new AbortController();
  const supervisor = new Supervisor(controller.signal);
  supervisor.run('other', steady);
  const child = supervisor.child('etcd');
  child.run('process', steady);
  t.throws(() => supervisor.child('etcd'), { message: /root\.etcd is already supervised/ });
  await child.stop();
  t.is(supervisor.states.get().get('root.etcd.process'), 'stopped');
  t.is(supervisor.states.get().get('root.other'), 'starting');
  const again = supervisor.child('etcd');
  t.is(again.path, 'root.etcd');
  controller.abort();
  await supervisor.done();
});

test('children started by a run stop when that run ends, before it restarts', async (t) => {
  const controller = new AbortController();
  const supervisor = new Supervisor(controller.signal, { minBackoffMs: 1 });
  const events: string[] = [];
  let runs = 0;
  supervisor.run('parent', async (_signal, { children }) => {
    runs++;
    const run = runs;
    children.run('worker', async (signal) => {
      events.push(`worker ${String(run)} started at ${children.path}`);
      await untilAborted(signal);
      events.push(`worker ${String(run)} stopped`);
    });
    await Promise.resolve();
    if (run === 2) controller.abort();
    throw new Error('parent failed');
  });
  await supervisor.done();
  t.deepEqual(events, [
    'worker 1 started at root.parent',
    'worker 1 stopped',
    'worker 2 started at root.parent',
    'worker 2 stopped',
  ]);
});

test('a run-once runnable is not restarted; its end or failure is its state', async (t) => {
  const controller = new AbortController();
  const lines: Line[] = [];
  const supervisor = new Supervisor(controller.signal, {
    minBackoffMs: 1,
    log: recordingLogger(lines),
  });
  let runs = 0;
  supervisor.run(
    'migrate',
    () => {
      runs++;
      return Promise.resolve();
    },
    { restart: 'never' },
  );
  supervisor.run(
    'probe',
    () => {
      runs++;
      return Promise.reject(new Error('no'));
    },
    { restart: 'never' },
  );
  await supervisor.done();
  t.is(runs, 2);
  t.is(supervisor.states.get().get('root.migrate'), 'done');
  t.is(supervisor.states.get().get('root.probe'), 'failed');
  t.deepEqual(lines, [
    { level: 'error', message: 'runnable failed', fields: { runnable: 'root.probe', error: 'no' } },
  ]);
  controller.abort();
});
