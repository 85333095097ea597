// `metroctl cluster register-ticket`: the ticket new nodes register with. Joining lands later;
// until then this says so (exit 8) instead of printing a ticket nothing would accept.
import { Command } from 'commander';
import { MetroctlError } from '../../errors.js';

export function registerTicketCommand(): Command {
  return new Command('register-ticket')
    .description('print the ticket new nodes register with (not built yet)')
    .action(() => {
      throw new MetroctlError(
        'METROCTL_NOT_BUILT',
        'cluster register-ticket is not built yet: nodes cannot join a cluster until the ' +
          'register/join flow lands',
      );
    });
}
