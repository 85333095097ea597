// `metroctl update status [NAME] [-o json|yaml] [-w]`: every OSUpdate as a table, or one in
// detail with its nodes; --watch keeps it current until the rollout is over (or Ctrl-C).
import { isApiRestarting } from '../../core/api-restarting.js';
import { Command, Option } from 'commander';
import { isFailedOSUpdatePhase, isTerminalOSUpdatePhase, type OSUpdate } from '@metropolis/api';
import { LiveBlock } from '../../core/live-block.js';
import { describeOSUpdate } from '../../core/os-update-description.js';
import { renderOSUpdateTable } from '../../core/os-update-table.js';
import {
  outputFormats,
  parseOutputFormat,
  renderResource,
  renderResourceList,
  type OutputFormat,
} from '../../core/output-format.js';
import { pollUntil } from '../../core/poll-until.js';
import { MetroctlError } from '../../errors.js';
import type { CliContext } from '../cli-context.js';

/** How often --watch reads. */
const watchIntervalMs = 1000;

export function statusCommand(context: CliContext): Command {
  return new Command('status')
    .description('show OSUpdates, or one OSUpdate with its nodes')
    .argument('[name]', 'OSUpdate name (default: a table of all)')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(outputFormats).default('table'),
    )
    .option('-w, --watch', 'keep the output current until the update is over (or Ctrl-C)', false)
    .action(async (name: string | undefined, raw: { output: string; watch: boolean }) => {
      const format = parseOutputFormat(raw.output);
      const updates = await context.updates();
      const read = async (): Promise<OSUpdate[]> =>
        name === undefined ? updates.list() : [await updates.get(name)];
      const render = (items: readonly OSUpdate[]): string =>
        renderStatus(items, name !== undefined, format, context.now());

      if (!raw.watch) {
        const items = await read();
        if (name === undefined && items.length === 0 && format === 'table') {
          context.notice('There are no OSUpdates.');
          return;
        }
        context.print(render(items));
        return;
      }

      // JSON and YAML are for programs: a new document per change, never redrawn in place.
      const block = new LiveBlock({
        write: (text) => {
          context.write(text);
        },
        isTTY: context.stdout.isTTY && format === 'table',
        columns: () => context.stdout.columns(),
      });
      let last: OSUpdate | undefined;
      let retrying = false;
      const outcome = await pollUntil({
        read,
        onValue: (items) => {
          retrying = false;
          block.show(render(items), stateKey(items));
          last = items[0];
          // One update is watched until it is over; the table of all until Ctrl-C.
          return name !== undefined && last !== undefined && isOver(last);
        },
        onError: (error) => {
          if (!isApiRestarting(error)) return false;
          if (!retrying) context.notice(`${error.message}; trying again`);
          retrying = true;
          return true;
        },
        signal: context.interruptSignal(),
        intervalMs: watchIntervalMs,
      });
      const phase = last?.status?.phase;
      if (outcome === 'done' && last !== undefined && isFailedOSUpdatePhase(phase)) {
        // A watch that ends in failure fails, so `status -w && next-step` stops there.
        throw new MetroctlError(
          'METROCTL_FAILED',
          `OSUpdate ${last.metadata.name} ended ${phase ?? ''}: ${last.status?.summary ?? 'no summary'}`,
        );
      }
    });
}

function renderStatus(
  items: readonly OSUpdate[],
  one: boolean,
  format: OutputFormat,
  now: Date,
): string {
  const [first] = items;
  if (one && first !== undefined) {
    // One named object prints as the object itself, as `kubectl get osu NAME -o json` does.
    return format === 'table'
      ? describeOSUpdate(first, now)
      : renderResource(first, format).trimEnd();
  }
  if (format === 'table') return renderOSUpdateTable(items, now);
  return renderResourceList(items, format).trimEnd();
}

/** What the output shows, without the clock: off a terminal, a new block only when it changes. */
function stateKey(items: readonly OSUpdate[]): string {
  return JSON.stringify(
    items.map((item) => [item.metadata.name, item.metadata.generation, item.spec, item.status]),
  );
}

/** The rollout is over and the status describes the latest spec. */
function isOver(update: OSUpdate): boolean {
  const { generation } = update.metadata;
  const observed = update.status?.observedGeneration;
  const current = generation === undefined || observed === undefined || observed >= generation;
  return current && isTerminalOSUpdatePhase(update.status?.phase);
}
