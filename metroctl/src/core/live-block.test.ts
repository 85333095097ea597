// --watch output: redrawn in place on a terminal (counting wrapped rows), a new block per state
// change elsewhere, never an escape code off a terminal.
import test from 'ava';
import { LiveBlock } from './live-block.js';

function recorder(isTTY: boolean, columns?: number) {
  const written: string[] = [];
  const block = new LiveBlock({
    write: (text) => written.push(text),
    isTTY,
    columns: () => columns,
  });
  return { block, written };
}

test('off a terminal: a block per changed key, separated by a blank line, no escapes', (t) => {
  const { block, written } = recorder(false);
  block.show('PHASE Staging\nage 1s', 'a');
  block.show('PHASE Staging\nage 2s', 'a');
  block.show('PHASE Progressing\nage 3s', 'b');
  t.deepEqual(written, ['PHASE Staging\nage 1s\n', '\nPHASE Progressing\nage 3s\n']);
  t.false(written.join('').includes('\x1b'));
});

test('on a terminal: each new text replaces the previous block', (t) => {
  const { block, written } = recorder(true, 80);
  block.show('one\ntwo', 'a');
  block.show('one\ntwo', 'a');
  block.show('three', 'a');
  block.show('four', 'b');
  t.deepEqual(written, ['one\ntwo\n', '\x1b[2F\x1b[Jthree\n', '\x1b[1F\x1b[Jfour\n']);
});

test('on a terminal: wrapped lines count as the rows they take', (t) => {
  const { block, written } = recorder(true, 10);
  block.show(`${'x'.repeat(25)}\n${'y'.repeat(10)}\n`, 'a');
  block.show('z', 'a');
  // 25 columns wrap to 3 rows, 10 fit in 1, the empty last line is 1.
  t.is(written[1], '\x1b[5F\x1b[Jz\n');
});
