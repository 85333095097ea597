// The node agent's command line for `run`, as whatever starts it writes it (the firmware
// emulator; init on a VM node): the storage roots of {@link NodeLayoutRoots}, one flag each.
import type { NodeLayoutRoots } from './node-layout.js';

/** `run` and the flags that bind the agent to its storage. */
export function nodeAgentArgs(roots: NodeLayoutRoots): string[] {
  return [
    'run',
    '--efivarfs',
    roots.efivarfs,
    '--esp',
    roots.esp,
    '--system-a',
    roots.systemA,
    '--system-b',
    roots.systemB,
    '--data',
    roots.data,
    '--disk',
    roots.disk,
    '--cmdline',
    roots.cmdline,
  ];
}
