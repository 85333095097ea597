import test from 'ava';
import { AgentError } from '../errors.js';
import { otherSlot, slotFromCmdline } from './slot.js';

test('the running slot comes from the PARTLABEL on the command line', (t) => {
  t.is(slotFromCmdline('console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-B quiet\n'), 'B');
  t.is(
    slotFromCmdline('dm-mod.create="rootfs,,,ro,0 1 verity 1 PARTLABEL=METROPOLIS-SYSTEM-A x"'),
    'A',
  );
});

test('a command line without a slot, or with an unsubstituted one, is refused', (t) => {
  for (const cmdline of [
    'console=ttyS0',
    'root=PARTLABEL=METROPOLIS-SYSTEM-X',
    'PARTLABEL=METROPOLIS-SYSTEM-AB',
  ]) {
    const error = t.throws(() => slotFromCmdline(cmdline), { instanceOf: AgentError });
    t.is(error.code, 'AGENT_NO_RUNNING_SLOT');
  }
});

test('slots know their other half', (t) => {
  t.is(otherSlot('A'), 'B');
  t.is(otherSlot('B'), 'A');
});
