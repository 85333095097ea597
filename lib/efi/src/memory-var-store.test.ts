// MemoryVarStore keeps the contract of EfiVarStore: the same operations give the same answers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
  BootVariables,
  EfiError,
  EfiVarStore,
  MemoryVarStore,
  filePath,
  loadOptionActive,
  systemdLoaderVendor,
  type EfiVariableStore,
} from './index.js';

/** A script of reads and writes; returns what a caller would observe. */
async function observe(store: EfiVariableStore): Promise<unknown[]> {
  const seen: unknown[] = [];
  const attempt = async (step: () => Promise<unknown>): Promise<void> => {
    try {
      seen.push(await step());
    } catch (error) {
      seen.push(error instanceof EfiError ? error.code : error);
    }
  };
  const variables = new BootVariables(store);
  await attempt(() => store.read('BootNext'));
  await attempt(() => store.tryRead('BootNext'));
  const option = { attributes: loadOptionActive, description: 'x', filePaths: [[filePath('\\a')]] };
  await attempt(() => variables.addEntry({ ...option, optionalData: new Uint8Array() }));
  await attempt(() => variables.addEntry({ ...option, optionalData: new Uint8Array() }));
  await attempt(() => variables.setBootOrder([1, 0]));
  await attempt(() => variables.setBootNext(1));
  await attempt(() =>
    store.write('Custom', Uint8Array.of(1, 2), {
      vendor: systemdLoaderVendor.toUpperCase(),
      attributes: 6,
    }),
  );
  await attempt(() => store.read('Custom', systemdLoaderVendor));
  await attempt(() => store.list());
  await attempt(() => store.list(systemdLoaderVendor));
  await attempt(() => variables.bootOrder());
  await attempt(() => variables.bootNext());
  await attempt(() => variables.clearBootNext());
  await attempt(() => variables.clearBootNext());
  await attempt(() => variables.bootNext());
  await attempt(() => store.write('a/b', new Uint8Array()));
  await attempt(() => store.write('A', new Uint8Array(), { vendor: 'not-a-guid' }));
  await attempt(() => store.write('A', new Uint8Array(), { attributes: -1 }));
  await attempt(() => variables.entries());
  return seen;
}

test('answers every operation as an efivarfs directory does', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'efivars-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const expected = await observe(new EfiVarStore(dir));
  t.deepEqual(await observe(new MemoryVarStore()), expected);
  t.true(expected.includes('EFI_VAR_NOT_FOUND'));
  t.true(expected.includes('EFI_INVALID_ARGUMENT'));
});

test('a read is a copy: changing it does not change the variable', async (t) => {
  const store = new MemoryVarStore();
  const data = Uint8Array.of(1, 2);
  await store.write('BootOrder', data);
  data[0] = 9;
  (await store.read('BootOrder')).data[1] = 9;
  t.deepEqual((await store.read('BootOrder')).data, Uint8Array.of(1, 2));
});
