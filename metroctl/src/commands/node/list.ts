// `metroctl node list [ID...]`: node IDs, one per line (describe's first column).
import { Command, Option } from 'commander';
import { outputFormats, parseOutputFormat, renderResourceList } from '../../core/output-format.js';
import type { CliContext } from '../cli-context.js';

export function listCommand(context: CliContext): Command {
  return new Command('list')
    .description('list node IDs, one per line')
    .argument('[ids...]', 'node IDs, or "all" (default: all)')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(outputFormats).default('table'),
    )
    .action(async (ids: string[], raw: { output: string }) => {
      const format = parseOutputFormat(raw.output);
      const nodes = await (await context.nodes()).select(ids);
      if (format === 'table') {
        for (const node of nodes) context.print(node.metadata.name);
      } else {
        context.print(renderResourceList(nodes, format).trimEnd());
      }
    });
}
