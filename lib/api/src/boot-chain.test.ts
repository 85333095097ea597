// The boot chain's names, and the stub's slot rules: file name decides, any case; everything
// else is slot A.
import test from 'ava';
import {
  cmdlineForSlot,
  loaderEfiPath,
  slotFromLoaderPath,
  slotPartitionLabel,
  slotPartLabelPattern,
} from './boot-chain.js';

test('each slot has its loader and its partition label', (t) => {
  t.is(loaderEfiPath('A'), '\\EFI\\metropolis\\boot-a.efi');
  t.is(loaderEfiPath('B'), '\\EFI\\metropolis\\boot-b.efi');
  t.is(slotPartitionLabel('B'), 'METROPOLIS-SYSTEM-B');
  t.is(slotPartLabelPattern.exec(`root=PARTLABEL=${slotPartitionLabel('A')}`)?.[1], 'A');
});

test('the loader file name picks the slot, case-insensitively', (t) => {
  t.is(slotFromLoaderPath('\\EFI\\metropolis\\boot-a.efi'), 'A');
  t.is(slotFromLoaderPath('\\EFI\\metropolis\\boot-b.efi'), 'B');
  t.is(slotFromLoaderPath('\\EFI\\METROPOLIS\\BOOT-B.EFI'), 'B');
  t.is(slotFromLoaderPath('\\efi\\metropolis\\Boot-B.Efi'), 'B');
});

test('any other loader path boots slot A, as the removable fallback does', (t) => {
  t.is(slotFromLoaderPath('\\EFI\\BOOT\\BOOTX64.EFI'), 'A');
  t.is(slotFromLoaderPath('\\EFI\\metropolis\\boot-c.efi'), 'A');
  t.is(slotFromLoaderPath('\\EFI\\metropolis\\boot-b.efi.bak'), 'A');
  t.is(slotFromLoaderPath(''), 'A');
});

test('every METROPOLIS-SYSTEM-X in the command line names the slot', (t) => {
  const cmdline =
    'console=ttyS0 dm-mod.create="rootfs,,,ro,0 1 verity 1 PARTLABEL=METROPOLIS-SYSTEM-X PARTLABEL=METROPOLIS-SYSTEM-X" root=/dev/dm-0';
  t.is(
    cmdlineForSlot(cmdline, 'B'),
    'console=ttyS0 dm-mod.create="rootfs,,,ro,0 1 verity 1 PARTLABEL=METROPOLIS-SYSTEM-B PARTLABEL=METROPOLIS-SYSTEM-B" root=/dev/dm-0',
  );
  t.is(
    cmdlineForSlot('root=PARTLABEL=METROPOLIS-SYSTEM-X', 'A'),
    'root=PARTLABEL=METROPOLIS-SYSTEM-A',
  );
});

test('a command line without the placeholder is left alone', (t) => {
  t.is(
    cmdlineForSlot('console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-A', 'B'),
    'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-A',
  );
  t.is(cmdlineForSlot('METROPOLIS-SYSTEM-x', 'B'), 'METROPOLIS-SYSTEM-x');
});
