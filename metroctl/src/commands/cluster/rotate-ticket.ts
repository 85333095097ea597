// `metroctl cluster rotate-ticket`: replaces the ticket new nodes register with, so a leaked one
// stops working; nodes already registered can still finish once approved.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';

export function rotateTicketCommand(context: CliContext): Command {
  return new Command('rotate-ticket')
    .description(
      'replace the register ticket: the old one stops working within seconds; prints the new one',
    )
    .action(async () => {
      const kc = await context.kubeConfig();
      // Loaded on use: it pulls in client-node, which every other command would pay for.
      const { rotateRegisterTicket } = await import('../../core/register-ticket.js');
      context.print(await rotateRegisterTicket(kc));
    });
}
