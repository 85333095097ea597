// Control characters from a node are shown, not obeyed.
import test from 'ava';
import { escapeControlCharacters } from './terminal-text.js';

test('C0, DEL and C1 controls are escaped; printable text, including non-ASCII, is kept', (t) => {
  t.is(escapeControlCharacters('\u001b]0;pwn\u0007v1'), '\\x1b]0;pwn\\x07v1');
  t.is(escapeControlCharacters('a\nb\tc\rd'), 'a\\nb\\tc\\rd');
  t.is(escapeControlCharacters('\u007f\u009b2J'), '\\x7f\\x9b2J');
  t.is(escapeControlCharacters('v0.2.0 – grün ✓'), 'v0.2.0 – grün ✓');
});
