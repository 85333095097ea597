// The node directory: created once with a random ESP GUID and exact slot sizes, then reused.
import test from 'ava';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeLayout, ProcessNodeError } from '@metropolis/process-node';
import { prepareNodeDirectory } from './node-layout.js';

test('a new node directory gets its layout, disk.json and sparse slots', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'process-node-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const layout = nodeLayout(join(dir, 'node'));
  const disk = await prepareNodeDirectory(layout, 8 * 1024 * 1024);
  t.like(disk, {
    esp: { partitionNumber: 1, start: 2048, size: 262_144 },
    slotSize: 8 * 1024 * 1024,
  });
  t.regex(disk.esp.guid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.deepEqual(JSON.parse(await readFile(layout.disk, 'utf8')), disk);
  for (const slot of [layout.systemA, layout.systemB]) {
    const info = await stat(slot);
    t.is(info.size, 8 * 1024 * 1024);
    t.true(info.blocks * 512 < info.size, 'sparse');
  }
  for (const path of [layout.efivars, layout.data, layout.run, join(layout.esp, 'EFI', 'BOOT')]) {
    t.true((await stat(path)).isDirectory());
  }
  t.deepEqual(await prepareNodeDirectory(layout), disk, 'reused as it is');
  t.is(layout.parameters, join(layout.esp, 'metropolis', 'parameters.json'));
});

test('an existing node directory that does not fit is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'process-node-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const layout = nodeLayout(dir);
  await prepareNodeDirectory(layout, 1024 * 1024);
  const refuse = async (slotSize?: number): Promise<void> => {
    const error = await t.throwsAsync(prepareNodeDirectory(layout, slotSize), {
      instanceOf: ProcessNodeError,
    });
    t.is(error.code, 'NODE_DIR_INVALID');
  };
  await refuse(2 * 1024 * 1024);
  await writeFile(layout.systemB, 'short');
  await refuse();
  await writeFile(
    layout.disk,
    '{"esp":{"partitionNumber":1,"start":2048,"size":1,"guid":"x"},"slotSize":1}',
  );
  await refuse();
  await writeFile(layout.disk, 'not json');
  await refuse();
});
