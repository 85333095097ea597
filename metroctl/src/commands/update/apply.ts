// `metroctl update apply`: creates an OSUpdate from flags. A bundle file is served from this
// machine until the selected nodes no longer need it; progress goes to stderr.
import { Command, Option } from 'commander';
import type { OSUpdate } from '@metropolis/api';
import { applyOSUpdate, type ServedFile } from '../../core/apply-os-update.js';
import type { BundleNeed } from '../../core/bundle-still-needed.js';
import { nodeFacingAddress } from '../../core/local-address.js';
import { parseOSUpdateRequest } from '../../core/os-update-request.js';
import type { CliContext } from '../cli-context.js';

interface RawApplyFlags {
  bundle: string;
  version: string;
  name?: string;
  selector: string[];
  maxUnavailable?: string;
  failurePolicy?: string;
  bootTimeout?: string;
  healthTimeout?: string;
  sha256?: string;
  serveAddress?: string;
  paused: boolean;
}

export function applyCommand(context: CliContext): Command {
  return new Command('apply')
    .description(
      'create an OSUpdate: update the selected nodes to VERSION from a bundle URL, or from a ' +
        'bundle file that metroctl serves until the nodes have staged it',
    )
    .requiredOption('--bundle <url|file>', 'bundle URL (http:// or https://) or file to serve')
    .requiredOption('--version <version>', 'release version the bundle carries, e.g. 0.2.0')
    .option('--name <name>', 'OSUpdate name (default: os-<version>-<random>)')
    .addOption(
      new Option('--selector <terms>', 'node labels: key=value, key!=value, key, !key; repeatable')
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([], 'every approved node'),
    )
    .option('--max-unavailable <n|p%>', 'nodes updating at once: a count or 1%-100% (default 1)')
    .option('--failure-policy <policy>', 'on a failed node: Halt or Revert (default Halt)')
    .option('--boot-timeout <duration>', 'reboot to answering again, e.g. 10m (default 10m)')
    .option('--health-timeout <duration>', 'back to healthy, e.g. 5m (default 5m)')
    .option('--sha256 <hex>', "the bundle's SHA-256 (required with a URL)")
    .option('--serve-address <ip>', 'address to serve a bundle file on (default: towards a node)')
    .option('--paused', 'create the update paused', false)
    .action(async (raw: RawApplyFlags) => {
      const request = parseOSUpdateRequest(raw);
      const serving = request.source.kind === 'file';
      const updates = await context.updates();
      const outcome = await applyOSUpdate({
        updates,
        request,
        serveAddress: () => nodeFacingAddress(context.globals().endpoints, context.config()),
        // Only a served file handles Ctrl-C: otherwise it ends metroctl at once, as usual.
        signal: serving ? context.interruptSignal() : new AbortController().signal,
        onServing: (served) => {
          context.notice(
            `Serving ${served.file} (${String(served.size)} bytes, sha256 ${served.sha256}) ` +
              `at ${served.url}`,
          );
        },
        onCreated: (update) => {
          context.print(
            `Created OSUpdate ${update.metadata.name} (version ${update.spec.version}).`,
          );
          if (serving) {
            context.notice(
              'Serving the bundle until every selected node has staged it; Ctrl-C stops serving.',
            );
          }
        },
        onProgress: (update, need) => {
          context.notice(progressLine(update, need));
        },
        onRetry: (error) => {
          context.notice(`${error.message}; trying again`);
        },
      });
      switch (outcome.kind) {
        case 'created':
          context.notice(
            `Follow it with: metroctl update status ${outcome.update.metadata.name} -w`,
          );
          return;
        case 'served':
          context.notice(stoppedLine(outcome.update, outcome.need, outcome.served));
          return;
        case 'interrupted':
          context.notice(
            `Stopped serving ${outcome.served.file}. OSUpdate ${outcome.update.metadata.name} ` +
              `still needs it: nodes cannot stage the update until the bundle is served again ` +
              `at spec.bundle.url${
                outcome.need.reason === 'nodes-to-stage'
                  ? ` (${nodesToStage(outcome.need)} to stage)`
                  : ''
              }.`,
          );
          return;
        case 'cancelled':
          context.notice('Interrupted before the OSUpdate was created; nothing was created.');
          return;
      }
    });
}

/** `os-0.2.0-x7k2q: Staging, 0/3 updated; 3 nodes (1 staging, 2 pending) still need the bundle` */
function progressLine(update: OSUpdate, need: BundleNeed): string {
  const name = update.metadata.name;
  const status = update.status ?? {};
  if (status.phase === undefined) return `${name}: waiting for the operator to start it`;
  const updated = status.updated === undefined ? '' : `, ${status.updated} updated`;
  const what: Record<BundleNeed['reason'], string> = {
    'not-started': 'no node started yet',
    'status-outdated': 'waiting for the operator to act on the latest spec',
    'nodes-to-stage': `${nodesToStage(need)} still need the bundle`,
    finished: 'no node needs the bundle any more',
    'all-staged': 'every selected node has staged the bundle',
  };
  return `${name}: ${status.phase}${updated}; ${what[need.reason]}`;
}

function nodesToStage(need: BundleNeed): string {
  const count = need.staging + need.pending;
  return (
    `${String(count)} ${count === 1 ? 'node' : 'nodes'} ` +
    `(${String(need.staging)} staging, ${String(need.pending)} pending)`
  );
}

function stoppedLine(update: OSUpdate, need: BundleNeed, served: ServedFile): string {
  const name = update.metadata.name;
  switch (need.reason) {
    case 'all-staged':
      return `Every selected node of OSUpdate ${name} has staged the bundle; stopped serving ${served.file}.`;
    default:
      return `OSUpdate ${name} is ${update.status?.phase ?? 'over'}; stopped serving ${served.file}.`;
  }
}
