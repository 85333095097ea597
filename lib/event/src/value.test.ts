import test from 'ava';
import fc from 'fast-check';
import { Value } from './index.js';

/** Lets pending promise callbacks and timers run (one macrotask). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Collects what a watcher yields until `signal` aborts, waiting `lag` turns after each value. */
async function collect<T>(value: Value<T>, signal: AbortSignal, lag = 0): Promise<T[]> {
  const seen: T[] = [];
  for await (const item of value.watch(signal)) {
    seen.push(item);
    for (let i = 0; i < lag; i++) await turn();
  }
  return seen;
}

test('a watcher sees the current value first, then each change', async (t) => {
  const value = new Value(1);
  const controller = new AbortController();
  const watching = collect(value, controller.signal);
  await turn();
  value.set(2);
  await turn();
  value.set(3);
  await turn();
  controller.abort();
  t.deepEqual(await watching, [1, 2, 3]);
  t.is(value.get(), 3);
});

test('a slow watcher skips intermediate values but ends at the latest', async (t) => {
  const value = new Value('a');
  const controller = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    for await (const item of value.watch(controller.signal)) {
      seen.push(item);
      if (item === 'd') controller.abort();
    }
  })();
  value.set('b');
  value.set('c');
  value.set('d');
  await watching;
  t.deepEqual(seen, ['a', 'd']);
});

test('setting an equal value wakes no watcher', async (t) => {
  const value = new Value({ n: 1 }, { equals: (a, b) => a.n === b.n });
  const controller = new AbortController();
  const watching = collect(value, controller.signal);
  await turn();
  value.set({ n: 1 });
  await turn();
  value.set({ n: 2 });
  await turn();
  controller.abort();
  t.deepEqual(
    (await watching).map((item) => item.n),
    [1, 2],
  );
});

test('a watch on an aborted signal yields nothing', async (t) => {
  const value = new Value(1);
  t.deepEqual(await collect(value, AbortSignal.abort()), []);
});

test('until resolves with the first value that satisfies the predicate', async (t) => {
  const value = new Value(0);
  const waiting = value.until((n) => n >= 2, new AbortController().signal);
  value.set(1);
  await turn();
  value.set(3);
  t.is(await waiting, 3);
  t.is(await value.until((n) => n === 3, new AbortController().signal), 3);
});

test('until rejects with the reason when the signal aborts first', async (t) => {
  const value = new Value(0);
  const controller = new AbortController();
  const waiting = value.until((n) => n > 0, controller.signal);
  controller.abort(new Error('gave up'));
  await t.throwsAsync(waiting, { message: 'gave up' });
});

type Step = { readonly set: number } | { readonly turns: number };

test('watchers see an ordered subsequence of the sets without repeats and end at the last', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({ set: fc.integer({ min: 0, max: 3 }) }),
          fc.record({ turns: fc.integer({ min: 0, max: 3 }) }),
        ),
        { maxLength: 40 },
      ),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
      async (steps: Step[], lags: number[]) => {
        const value = new Value(0);
        const controller = new AbortController();
        const watchers = lags.map((lag) => {
          const seen: number[] = [];
          const done = (async () => {
            for await (const item of value.watch(controller.signal)) {
              seen.push(item);
              for (let i = 0; i < lag; i++) await turn();
            }
          })();
          return { seen, done };
        });
        const history = [0];
        for (const step of steps) {
          if ('set' in step) {
            value.set(step.set);
            history.push(step.set);
          } else {
            for (let i = 0; i < step.turns; i++) await turn();
          }
        }
        const last = value.get();
        // Bounded: every watcher must reach the last value within a few turns per lag.
        for (let i = 0; i < 50 && watchers.some((w) => w.seen.at(-1) !== last); i++) await turn();
        controller.abort();
        await Promise.all(watchers.map((w) => w.done));
        for (const { seen } of watchers) {
          if (seen.at(-1) !== last) return false;
          if (seen.some((item, i) => i > 0 && seen[i - 1] === item)) return false;
          let at = 0;
          for (const item of seen) {
            while (at < history.length && history[at] !== item) at++;
            if (at === history.length) return false;
            at++;
          }
        }
        return true;
      },
    ),
  );
  t.pass();
});
