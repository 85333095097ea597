// The node agent's command line as its init or firmware emulator runs it: the bin script in a
// real process, its exit code and stderr.
import test from 'ava';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = join(import.meta.dirname, '..', 'bin', 'metropolis-node-agent.js');

function run(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: tmpdir() }, (error, _stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stderr });
    });
  });
}

test('an unknown --flavour is refused before the agent starts', async (t) => {
  const missing = join(tmpdir(), 'metropolis-node-agent-never-read');
  const result = await run([
    'run',
    ...['--efivarfs', missing, '--esp', missing, '--system-a', missing, '--system-b', missing],
    ...['--data', missing, '--disk', missing, '--cmdline', missing],
    '--flavour',
    'docker',
  ]);
  t.is(result.code, 1);
  const [first] = result.stderr.split('\n');
  t.is(
    first,
    "error: option '--flavour <flavour>' argument 'docker' is invalid. " +
      'Allowed choices are process, vm.',
  );
  // Refused by the parser: the agent never got as far as reading its files.
  t.notRegex(result.stderr, /metropolis-node-agent:/);
});
