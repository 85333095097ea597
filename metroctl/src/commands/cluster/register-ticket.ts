// `metroctl cluster register-ticket`: prints the ticket new nodes register with (it goes into
// their node parameters); the bootstrap node keeps it in a Secret only the owner can read.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';

export function registerTicketCommand(context: CliContext): Command {
  return new Command('register-ticket')
    .description('print the ticket new nodes register with')
    .action(async () => {
      const kc = await context.kubeConfig();
      // Loaded on use: it pulls in client-node, which every other command would pay for.
      const { readRegisterTicket } = await import('../../core/register-ticket.js');
      context.print(await readRegisterTicket(kc));
    });
}
