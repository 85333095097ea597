// `metroctl cluster owner-key [--out FILE]`: creates this config directory's owner key if it
// has none, and prints its public half, which goes into a new node's parameters
// (bootstrap.ownerPublicKeys) so that the node lets only this owner bootstrap it.
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';

export function ownerKeyCommand(context: CliContext): Command {
  return new Command('owner-key')
    .description(
      'create the owner key if there is none and print its public key (PEM), for the ' +
        'bootstrap.ownerPublicKeys node parameter',
    )
    .option('--out <file>', 'write the public key to FILE instead of printing it')
    .action(async (options: { out?: string }) => {
      const config = context.config();
      const { keyPair, created } = await config.loadOrCreateOwnerKey();
      if (created) context.notice(`Created the owner key ${config.paths.ownerKey}`);
      const pem = `${await keyPair.publicKeyPem()}\n`;
      if (options.out === undefined) context.print(pem.trimEnd());
      else await writeFile(options.out, pem);
    });
}
