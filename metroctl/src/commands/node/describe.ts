// `metroctl node describe [ID...|all]`: the node table, or the MonogonNodes as JSON/YAML.
// Nodes named by ID also get their detail view: every health check and condition.
import { Command, Option } from 'commander';
import { selectsAll } from '../../core/monogon-nodes.js';
import { renderNodeDetails } from '../../core/node-details.js';
import { renderNodeTable } from '../../core/node-table.js';
import { outputFormats, parseOutputFormat, renderResourceList } from '../../core/output-format.js';
import type { CliContext } from '../cli-context.js';

export function describeCommand(context: CliContext): Command {
  return new Command('describe')
    .description('show nodes: state, address, health, roles, TPM, version, heartbeat, slot')
    .argument('[ids...]', 'node IDs, or "all" (default: all)')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(outputFormats).default('table'),
    )
    .action(async (ids: string[], raw: { output: string }) => {
      const format = parseOutputFormat(raw.output);
      const api = await context.nodes();
      const nodes = await api.select(ids);
      if (format === 'table') {
        const heartbeats = await api.heartbeats();
        const now = context.now();
        context.print(
          [
            renderNodeTable(nodes, now, heartbeats),
            ...(selectsAll(ids) ? [] : nodes.map((node) => renderNodeDetails(node, now))),
          ].join('\n\n'),
        );
      } else context.print(renderResourceList(nodes, format).trimEnd());
    });
}
