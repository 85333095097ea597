// `metroctl update resume NAME`: clears spec.paused, so the operator goes on with the rollout.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';

export function resumeCommand(context: CliContext): Command {
  return new Command('resume')
    .description('resume a paused OSUpdate')
    .argument('<name>', 'OSUpdate name')
    .action(async (name: string) => {
      const changed = await (await context.updates()).setPaused(name, false);
      context.print(changed ? `Resumed OSUpdate ${name}.` : `OSUpdate ${name} is not paused.`);
    });
}
