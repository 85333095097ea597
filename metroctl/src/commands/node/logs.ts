// `metroctl node logs ID [-f] [--backlog N]`: the node agent's log, one entry per line.
import { Command, InvalidArgumentError } from 'commander';
import { formatLogEntry, streamNodeLogs } from '../../core/node-logs.js';
import type { CliContext } from '../cli-context.js';

export function logsCommand(context: CliContext): Command {
  return new Command('logs')
    .description("print a node agent's log (mTLS as the owner, at the node's address)")
    .argument('<id>', 'node ID')
    .option('-f, --follow', 'keep printing new entries until Ctrl-C', false)
    .option('--backlog <n>', 'past entries first: -1 all, 0 none, N the last N', backlogCount, -1)
    .action(async (id: string, raw: { follow: boolean; backlog: number }) => {
      await streamNodeLogs({
        nodes: await context.nodes(),
        nodeId: id,
        credentials: await context.config().ownerCredentials(),
        follow: raw.follow,
        backlog: raw.backlog,
        signal: context.interruptSignal(),
        onEntry: (entry) => {
          context.print(formatLogEntry(entry));
        },
      });
    });
}

function backlogCount(text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < -1) {
    throw new InvalidArgumentError('use -1 (all), 0 (none) or a count');
  }
  return count;
}
