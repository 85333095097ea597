// A host process that powers a node on and exits without shutting anything down, for the test
// of the last-resort exit cleanup. argv: <scratch dir> <bridge> <host address> <node name>
import { join } from 'node:path';
import { ProcessNetwork, ProcessNode } from '@metropolis/process-node';
import { fakeLoader, fakeSystemImage, waitForRun } from './fake-agent.js';

const [scratch = '', bridge = '', hostAddress = '', name = ''] = process.argv.slice(2);
const network = await ProcessNetwork.create({ bridge, hostAddress, prefixLength: 28 });
const node = await ProcessNode.create({
  dir: join(scratch, 'node'),
  name,
  network,
  slotSize: 4 * 1024 * 1024,
});
await node.install({
  systemImage: await fakeSystemImage(scratch, 'v1'),
  loader: await fakeLoader(scratch, 'v1'),
});
await node.powerOn();
const run = await waitForRun(node, 1);
process.stdout.write(`${JSON.stringify({ netns: node.netns, pid: run.pid })}\n`);
process.exit(0);
