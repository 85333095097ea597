// A machine emulated by processes: a node directory for its disk, a network namespace for its
// NIC, and a firmware loop that boots the node agent and treats the agent's exit as a reboot.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeAgentArgs, nodeManagementPort } from '@metropolis/api';
import { formatBootId } from '@metropolis/efi';
import { errorMessage } from '@metropolis/errors';
import { ManagedProcess, type ProcessExit } from '@metropolis/process';
import { appendBootRecord, readBootRecords, type BootRecord } from './boot-record.js';
import { ConsoleLog } from './console-log.js';
import { ProcessNodeError } from './errors.js';
import { firmwareBoot, type FirmwareBoot } from './firmware-boot.js';
import { NodeNamespace } from './node-namespace.js';
import {
  agentRoots,
  installSystem,
  nodeLayout,
  prepareNodeDirectory,
  type EmulatedDisk,
  type NodeLayout,
} from './node-layout.js';
import { onProcessExit } from './on-process-exit.js';
import { killProcessGroup, signalProcess, signalProcessGroup } from './process-group.js';
import type { ProcessNetwork } from './process-network.js';
import { nodeAgentFile } from './system-image.js';

export interface ProcessNodeOptions {
  /** The node directory; created if missing, reused (disk, variables, data) if not. */
  readonly dir: string;
  /** Lowercase letters, digits and `-`; names the network namespace `mtr-<name>`. */
  readonly name: string;
  /** Without one the node runs in the host's network namespace. */
  readonly network?: ProcessNetwork;
  /** The node's address on `network`. @default the network's lowest free address */
  readonly address?: string;
  /** Bytes of each slot file of a new node. @default 256 MiB */
  readonly slotSize?: number;
  /** Appended to the agent's command line. @default [] */
  readonly agentArgs?: readonly string[];
  /** Pause between the agent's exit and the next boot. @default 500 */
  readonly rebootDelayMs?: number;
  /** The node.js executable that runs the agent. @default process.execPath */
  readonly nodeCommand?: string;
  /** Written to esp/metropolis/parameters.json as JSON when given. */
  readonly parameters?: unknown;
  /** How long {@link ProcessNode.shutdown} waits after SIGTERM before SIGKILL. @default 5000 */
  readonly shutdownGraceMs?: number;
  /**
   * The firmware halts after this many boots in a row that failed or whose agent ran for less
   * than {@link bootLoopUptimeMs}; a power cut ends the series. @default 5
   */
  readonly bootLoopLimit?: number;
  /** @default 2000 */
  readonly bootLoopUptimeMs?: number;
}

/**
 * - `off`: not powered (before power-on and after shutdown).
 * - `booting`: the firmware is choosing and loading, or waiting to reboot.
 * - `running`: the agent runs.
 * - `halted`: powered, but the firmware stopped; see {@link ProcessNode.haltReason}.
 */
export type ProcessNodeState = 'off' | 'booting' | 'running' | 'halted';

type Interrupt = 'powerCut' | 'powerOff' | 'shutdown';

/** Outcome of one boot for the loop. */
type BootStep =
  | { readonly kind: 'running'; readonly agent: ManagedProcess }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'halt'; readonly reason: string };

const setsid = '/usr/bin/setsid';

/** A process node. Create with {@link ProcessNode.create}; always {@link ProcessNode.shutdown} it. */
export class ProcessNode {
  readonly name: string;
  /** Absolute path of the node directory. */
  readonly dir: string;
  readonly layout: NodeLayout;
  readonly disk: EmulatedDisk;
  /** The node's IPv4 address; undefined without a network. */
  readonly address: string | undefined;
  /** The network namespace's name; undefined without a network. */
  readonly netns: string | undefined;
  /** Set when the node has a network: where and as what it plugs in. */
  readonly #attachment:
    | { readonly network: ProcessNetwork; readonly netns: string; readonly address: string }
    | undefined;
  readonly #options: ProcessNodeOptions;
  readonly #serial: ConsoleLog;
  #state: ProcessNodeState = 'off';
  #haltReason: string | undefined;
  #nextBoot: number;
  #namespace: NodeNamespace | undefined;
  #agent: ManagedProcess | undefined;
  #loop: Promise<void> | undefined;
  #interrupt = new AbortController();
  #interruptKind: Interrupt = 'powerCut';
  #cutWaiters: Array<() => void> = [];
  #firstBoot: (() => void) | undefined;
  #cancelExitCleanup: (() => void) | undefined;

  private constructor(
    options: ProcessNodeOptions,
    layout: NodeLayout,
    disk: EmulatedDisk,
    address: string | undefined,
    nextBoot: number,
  ) {
    this.#options = options;
    this.name = options.name;
    this.layout = layout;
    this.dir = layout.dir;
    this.disk = disk;
    this.address = address;
    this.netns = options.network === undefined ? undefined : `mtr-${options.name}`;
    this.#attachment =
      options.network === undefined || address === undefined
        ? undefined
        : { network: options.network, netns: `mtr-${options.name}`, address };
    this.#serial = new ConsoleLog(layout.consoleLog);
    this.#nextBoot = nextBoot;
  }

  /**
   * Creates the node directory's layout if it is new, or reuses the existing one; claims the
   * node's address on the network. Touches no namespace and starts nothing.
   * @throws {ProcessNodeError} `OPTIONS_INVALID`, `NODE_DIR_INVALID`, `NETWORK_ADDRESS_INVALID`
   */
  static async create(options: ProcessNodeOptions): Promise<ProcessNode> {
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(options.name)) {
      throw new ProcessNodeError(
        'OPTIONS_INVALID',
        `node name ${JSON.stringify(options.name)} is not 1-40 of [a-z0-9-]`,
      );
    }
    if (options.address !== undefined && options.network === undefined) {
      throw new ProcessNodeError('OPTIONS_INVALID', 'an address needs a network');
    }
    if (
      options.slotSize !== undefined &&
      !(Number.isSafeInteger(options.slotSize) && options.slotSize > 0)
    ) {
      throw new ProcessNodeError('OPTIONS_INVALID', `slotSize ${String(options.slotSize)}`);
    }
    const layout = nodeLayout(options.dir);
    const disk = await prepareNodeDirectory(layout, options.slotSize);
    if (options.parameters !== undefined) {
      await writeFile(layout.parameters, `${JSON.stringify(options.parameters, null, 2)}\n`);
    }
    const records = await readBootRecords(layout.bootsLog);
    const nextBoot = Math.max(0, ...records.map((record) => record.boot)) + 1;
    let address: string | undefined;
    if (options.network !== undefined) {
      address = options.address ?? options.network.allocateAddress();
      if (options.address !== undefined) options.network.reserveAddress(options.address);
    }
    return new ProcessNode(options, layout, disk, address, nextBoot);
  }

  get state(): ProcessNodeState {
    return this.#state;
  }

  /** Why the firmware halted, while {@link state} is `halted`. */
  get haltReason(): string | undefined {
    return this.#haltReason;
  }

  /**
   * As Monogon's installer does: the system image into slot A, the loader to the removable path
   * `\EFI\BOOT\BOOTX64.EFI` and to `\EFI\metropolis\boot-a.efi`. Creates no Boot#### entries:
   * the agent makes them on its first good boot. Neither file is checked here; the firmware
   * judges them at boot, as real firmware would.
   * @throws {ProcessNodeError} `NODE_POWERED`, `SYSTEM_IMAGE_TOO_LARGE`
   */
  async install(files: { readonly systemImage: string; readonly loader: string }): Promise<void> {
    if (this.#state !== 'off') {
      throw new ProcessNodeError('NODE_POWERED', `${this.name} is ${this.#state}; shut it down`);
    }
    await installSystem(this.layout, this.disk, files);
  }

  /**
   * Plugs the node in (namespace, veth) if needed and starts the firmware. Resolves once the
   * first boot has been recorded in boots.jsonl: the agent started, or the boot failed.
   * A halted node is powered on again.
   * @throws {ProcessNodeError} `NODE_POWERED` while booting or running.
   */
  async powerOn(): Promise<void> {
    if (this.#state === 'booting' || this.#state === 'running') {
      throw new ProcessNodeError('NODE_POWERED', `${this.name} is ${this.#state}`);
    }
    await this.#loop;
    const attachment = this.#attachment;
    if (attachment !== undefined && this.#namespace === undefined) {
      this.#namespace = await NodeNamespace.create(
        attachment.netns,
        attachment.network,
        attachment.address,
      );
    }
    // The agent dies with this process anyway (PR_SET_PDEATHSIG); its namespace would not.
    this.#cancelExitCleanup ??= onProcessExit(() => {
      const pid = this.#agent?.pid;
      if (pid !== undefined) signalProcessGroup(pid, 'SIGKILL');
      this.#namespace?.destroySync();
    });
    this.#haltReason = undefined;
    this.#state = 'booting';
    this.#interrupt = new AbortController();
    const firstBoot = new Promise<void>((resolve) => {
      this.#firstBoot = resolve;
    });
    this.#loop = this.#run();
    await firstBoot;
  }

  /**
   * Cuts the power and turns it on again: every process of the node is killed at once
   * (SIGKILL, no grace), then the firmware boots again. Resolves once the old processes are
   * gone; wait for the next boot with {@link waitForBoot}. A halted node boots again.
   * @throws {ProcessNodeError} `NODE_OFF`
   */
  async powerCut(): Promise<void> {
    if (this.#state === 'off') throw new ProcessNodeError('NODE_OFF', `${this.name} is off`);
    if (this.#state === 'halted') {
      await this.#serial.print('firmware: power cut');
      await this.powerOn();
      return;
    }
    const done = new Promise<void>((resolve) => this.#cutWaiters.push(resolve));
    this.#interruptKind = 'powerCut';
    this.#interrupt.abort();
    await done;
  }

  /**
   * Sends `signal` to the agent process alone, not to what it started: what the kernel does to a
   * crashing or OOM-killed init (SIGSEGV, SIGKILL), or a debugger to a hung one (SIGSTOP). An
   * agent that exits of it reboots the node, as any exit of the agent does (panic=reboot).
   * @throws {ProcessNodeError} `AGENT_NOT_RUNNING` unless {@link state} is `running`.
   */
  signalAgent(signal: NodeJS.Signals): void {
    const agent = this.#agent;
    if (this.#state !== 'running' || agent === undefined) {
      throw new ProcessNodeError(
        'AGENT_NOT_RUNNING',
        `${this.name} is ${this.#state}: no agent runs`,
      );
    }
    signalProcess(agent.pid, signal);
  }

  /**
   * Stops the node without a reboot: SIGTERM to the agent's process group, SIGKILL after the
   * grace, then every process left in the namespace; deletes the namespace and its veth pair.
   * Safe to call in any state and twice.
   */
  async shutdown(): Promise<void> {
    await this.#stop('shutdown');
  }

  /**
   * Cuts the power and leaves it off: every process of the node is killed at once (SIGKILL, no
   * grace), as in {@link powerCut}, but nothing boots until {@link powerOn}. Unplugs the node
   * as {@link shutdown} does. Safe to call in any state and twice.
   */
  async powerOff(): Promise<void> {
    await this.#stop('powerOff');
  }

  async #stop(kind: 'powerOff' | 'shutdown'): Promise<void> {
    if (this.#loop !== undefined) {
      this.#interruptKind = kind;
      this.#interrupt.abort();
      await this.#loop;
      this.#loop = undefined;
    }
    await this.#namespace?.destroy();
    this.#namespace = undefined;
    this.#cancelExitCleanup?.();
    this.#cancelExitCleanup = undefined;
    this.#state = 'off';
    this.#haltReason = undefined;
  }

  /** Every boot attempt so far (boots.jsonl), oldest first. */
  async boots(): Promise<BootRecord[]> {
    return readBootRecords(this.layout.bootsLog);
  }

  /**
   * Waits until boot number `boot` (1 = the node's first boot ever) has been recorded and
   * returns its record; its `outcome` says whether the agent started.
   * @throws {ProcessNodeError} `BOOT_TIMEOUT` (with the console's last lines), `NODE_HALTED`
   *   or `NODE_OFF` when no such boot can come.
   */
  async waitForBoot(boot: number, timeoutMs: number): Promise<BootRecord> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const record = (await this.boots()).find((candidate) => candidate.boot === boot);
      if (record !== undefined) return record;
      if (this.#state === 'halted') {
        throw new ProcessNodeError(
          'NODE_HALTED',
          `${this.name} halted before boot ${String(boot)}: ${this.#haltReason ?? ''}`,
        );
      }
      if (this.#state === 'off') {
        throw new ProcessNodeError(
          'NODE_OFF',
          `${this.name} is off; boot ${String(boot)} will not come`,
        );
      }
      if (performance.now() > deadline) {
        throw new ProcessNodeError(
          'BOOT_TIMEOUT',
          `${this.name}: no boot ${String(boot)} within ${String(timeoutMs)} ms; console:\n${await this.#consoleTail()}`,
        );
      }
      await sleep(50);
    }
  }

  /** The firmware loop: boot, wait for the agent to end, reboot; until shutdown or a halt. */
  async #run(): Promise<void> {
    let shortBoots = 0;
    try {
      for (;;) {
        this.#state = 'booting';
        const began = performance.now();
        const step = await this.#bootOnce();
        this.#firstBoot?.();
        this.#firstBoot = undefined;
        if (step.kind === 'halt') {
          await this.#halt(step.reason);
          return;
        }
        let reason = '';
        if (step.kind === 'failed') {
          reason = step.reason;
          await this.#serial.print('kernel: rebooting');
        }
        if (step.kind === 'running') {
          this.#agent = step.agent;
          this.#state = 'running';
          const exit = await untilAborted(step.agent.exited, this.#interrupt.signal);
          if (exit !== undefined) {
            reason = `the agent exited (${describeExit(exit)})`;
            await this.#serial.print(`kernel: ${reason}; rebooting`);
          }
          await this.#stopAgent(step.agent);
          this.#agent = undefined;
        }
        if (await this.#stopsHere()) return;
        if (this.#pending() === 'powerCut') {
          this.#afterPowerCut();
          shortBoots = 0;
          await this.#serial.print('firmware: power cut');
          continue;
        }
        shortBoots = performance.now() - began < this.#bootLoopUptimeMs ? shortBoots + 1 : 0;
        if (shortBoots >= this.#bootLoopLimit) {
          await this.#halt(
            `boot loop: ${String(shortBoots)} boots in a row ended early; last: ${reason}`,
          );
          return;
        }
        this.#state = 'booting';
        await sleep(this.#options.rebootDelayMs ?? 500, undefined, {
          signal: this.#interrupt.signal,
        }).catch(() => undefined);
        if (await this.#stopsHere()) return;
        if (this.#pending() === 'powerCut') {
          this.#afterPowerCut();
          shortBoots = 0;
        }
      }
    } catch (error) {
      // Only the host failing (boots.jsonl or the console not writable) gets here.
      const agent = this.#agent;
      if (agent !== undefined) {
        await killProcessGroup(agent.pid);
        await agent.exited;
        this.#agent = undefined;
      }
      await this.#halt(`firmware error: ${errorMessage(error)}`).catch(() => undefined);
    } finally {
      this.#firstBoot?.();
      this.#firstBoot = undefined;
      for (const resolve of this.#cutWaiters.splice(0)) resolve();
    }
  }

  /** One boot: firmware, then the agent. Records the attempt in boots.jsonl. */
  async #bootOnce(): Promise<BootStep> {
    const boot = this.#nextBoot++;
    const at = new Date().toISOString();
    await this.#serial.print(`firmware: boot ${String(boot)} at ${at}`);
    let result: FirmwareBoot;
    try {
      result = await firmwareBoot(this.layout, this.disk, this.#serial);
    } catch (error) {
      // The host failed the emulator (unreadable efivars, a full disk): nothing to retry.
      const reason = `firmware error: ${errorMessage(error)}`;
      await appendBootRecord(this.layout.bootsLog, {
        boot,
        at,
        bootCurrent: null,
        via: null,
        loader: null,
        slot: null,
        version: null,
        outcome: reason,
        skipped: [],
      });
      return { kind: 'halt', reason };
    }
    const record = (outcome: string): Promise<void> => {
      const choice = result.kind === 'nothing' ? undefined : result.choice;
      const bootId = choice?.bootId ?? null;
      return appendBootRecord(this.layout.bootsLog, {
        boot,
        at,
        bootCurrent: bootId === null ? null : formatBootId(bootId),
        via: choice?.via ?? null,
        loader: choice?.loaderPath ?? null,
        slot: choice?.slot ?? null,
        version: choice?.loader.version ?? null,
        outcome,
        skipped: result.skipped,
      });
    };
    if (result.kind === 'nothing') {
      const reason = 'no bootable option or device';
      await record(reason);
      return { kind: 'halt', reason };
    }
    if (result.kind === 'failed') {
      await record(result.reason);
      return { kind: 'failed', reason: result.reason };
    }
    let agent: ManagedProcess;
    try {
      agent = await this.#startAgent();
    } catch (error) {
      const reason = `cannot start the agent: ${errorMessage(error)}`;
      await this.#serial.print(`kernel: ${reason}`);
      await record(reason);
      return { kind: 'failed', reason };
    }
    try {
      await record('started');
    } catch (error) {
      await killProcessGroup(agent.pid);
      await agent.exited;
      throw error;
    }
    return { kind: 'running', agent };
  }

  async #startAgent(): Promise<ManagedProcess> {
    const { layout } = this;
    return ManagedProcess.start({
      command: this.#options.nodeCommand ?? process.execPath,
      args: [
        join(layout.rootfs, nodeAgentFile),
        ...nodeAgentArgs(agentRoots(layout)),
        // Its own address only, as a machine's one interface: the namespace's loopback stays
        // free for what shares it (a hollow fleet beside node 0).
        ...(this.address === undefined
          ? []
          : ['--listen', `${this.address}:${String(nodeManagementPort)}`]),
        ...(this.#options.agentArgs ?? []),
      ],
      logFile: layout.consoleLog,
      cwd: layout.run,
      // setsid makes the agent a process-group leader, so one kill(-pgid) reaches every
      // process it started, also in the host namespace where there is no namespace to sweep.
      wrapper: [...(this.netns === undefined ? [] : ['ip', 'netns', 'exec', this.netns]), setsid],
    });
  }

  /**
   * Ends the agent and everything it started: SIGTERM then SIGKILL after the grace on shutdown,
   * SIGKILL at once otherwise (a power cut, or the agent already gone).
   */
  async #stopAgent(agent: ManagedProcess): Promise<void> {
    const graceful = agent.exit === undefined && this.#pending() === 'shutdown';
    if (graceful) {
      signalProcessGroup(agent.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        signalProcessGroup(agent.pid, 'SIGKILL');
      }, this.#options.shutdownGraceMs ?? 5_000);
      await agent.exited;
      clearTimeout(timer);
    }
    // Whatever is left (all of it on a power cut): the group, then the namespace.
    await killProcessGroup(agent.pid);
    await agent.exited;
    await this.#sweepNamespace();
  }

  async #sweepNamespace(): Promise<void> {
    const namespace = this.#namespace;
    if (namespace === undefined) return;
    for (let attempt = 0; attempt < 100; attempt++) {
      const pids = await namespace.pids();
      if (pids.length === 0) return;
      for (const pid of pids) signalProcess(pid, 'SIGKILL');
      await sleep(20);
    }
  }

  /** True when a shutdown or power-off was requested: the loop ends, the console says which. */
  async #stopsHere(): Promise<boolean> {
    const pending = this.#pending();
    if (pending === 'shutdown') await this.#serial.print('firmware: power off');
    else if (pending === 'powerOff') await this.#serial.print('firmware: power lost');
    else return false;
    return true;
  }

  /** The interrupt requested since the loop last looked, if any. */
  #pending(): Interrupt | undefined {
    return this.#interrupt.signal.aborted ? this.#interruptKind : undefined;
  }

  #afterPowerCut(): void {
    this.#interrupt = new AbortController();
    for (const resolve of this.#cutWaiters.splice(0)) resolve();
  }

  async #halt(reason: string): Promise<void> {
    this.#state = 'halted';
    this.#haltReason = reason;
    await this.#serial.print(`firmware: halted: ${reason}`);
  }

  get #bootLoopLimit(): number {
    return this.#options.bootLoopLimit ?? 5;
  }

  get #bootLoopUptimeMs(): number {
    return this.#options.bootLoopUptimeMs ?? 2_000;
  }

  async #consoleTail(): Promise<string> {
    const text = await readFile(this.layout.consoleLog, 'utf8').catch(() => '');
    return text.split('\n').slice(-30).join('\n');
  }
}

function describeExit(exit: ProcessExit): string {
  return exit.signal === null ? `code ${String(exit.code)}` : `signal ${exit.signal}`;
}

/** `promise`'s value, or undefined as soon as `signal` is aborted. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined;
  let onAbort = (): void => undefined;
  const abort = new Promise<undefined>((resolve) => {
    onAbort = () => {
      resolve(undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, abort]);
  } finally {
    // One listener per boot would pile up on a node that reboots for hours.
    signal.removeEventListener('abort', onAbort);
  }
}
