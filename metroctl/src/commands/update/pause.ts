// `metroctl update pause NAME`: sets spec.paused, so the operator starts no further node.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';

export function pauseCommand(context: CliContext): Command {
  return new Command('pause')
    .description('pause an OSUpdate: no further node starts; nodes underway finish')
    .argument('<name>', 'OSUpdate name')
    .action(async (name: string) => {
      const changed = await (await context.updates()).setPaused(name, true);
      context.print(
        changed
          ? `Paused OSUpdate ${name}: no further node starts; nodes underway finish.`
          : `OSUpdate ${name} is already paused.`,
      );
    });
}
