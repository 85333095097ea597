// Log entries as lines: ISO time, level, message, then fields as key=value (quoted if needed).
import test from 'ava';
import { formatLogEntry } from './node-logs.js';

test('formats an entry with its fields', (t) => {
  t.is(
    formatLogEntry({
      timeUnixMs: Date.UTC(2024, 1, 12, 17, 42, 33, 123),
      level: 'info',
      message: 'slot activated',
      fieldsJson: JSON.stringify({ component: 'slot-manager', slot: 'B', attempt: 2, note: 'a b' }),
    }),
    '2024-02-12T17:42:33.123Z info slot activated component=slot-manager slot=B attempt=2 note="a b"',
  );
});

test('an entry without fields, or with fields that are not an object, still prints', (t) => {
  const base = { timeUnixMs: 0, level: 'warn', message: 'two\nlines' };
  t.is(formatLogEntry({ ...base, fieldsJson: '' }), '1970-01-01T00:00:00.000Z warn two\\nlines');
  t.is(
    formatLogEntry({ ...base, fieldsJson: 'not json' }),
    '1970-01-01T00:00:00.000Z warn two\\nlines fields="not json"',
  );
});

test('control characters in a message or a field are shown escaped, not sent to the terminal', (t) => {
  t.is(
    formatLogEntry({
      timeUnixMs: 0,
      level: 'info',
      message: '\u001b[2Jcleared\u009b',
      fieldsJson: JSON.stringify({ title: '\u001b]0;pwn\u0007', c1: 'x\u0085y' }),
    }),
    '1970-01-01T00:00:00.000Z info \\x1b[2Jcleared\\x9b title=\\x1b]0;pwn\\x07 c1=x\\x85y',
  );
});
