import test from 'ava';
import { Supervisor, untilAborted } from './index.js';

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
