// A hollow node (after Kubernetes' kubemark): the real agent over simulated hardware. Its disk is
// a process node's directory (slots, ESP, data), its EFI variables live in memory, and a reboot
// stops the agent, waits, and runs the process-node boot manager to boot whatever slot the
// boot variables select.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { Writable } from 'node:stream';
import { NodeLayout } from '@metropolis/api';
import { BootVariables, MemoryVarStore, formatBootId } from '@metropolis/efi';
import { errorMessage } from '@metropolis/errors';
import { LogRing, createLogger, type Logger } from '@metropolis/logging';
import {
  ConsoleLog,
  agentRoots,
  appendBootRecord,
  installSystem,
  mountSystemImage,
  nodeLayout,
  prepareNodeDirectory,
  readBootRecords,
  runBootManager,
  slotPath,
  type EmulatedDisk,
  type NodeLayout as NodeDirectory,
} from '@metropolis/process-node';
import { startAgent, type AgentSettings, type RunningAgent } from '../agent/start-agent.js';
import { NodeIdentity } from '../identity/node-identity.js';
import { readRelease } from '../storage/node-files.js';

export interface HollowNodeOptions {
  /** Names the node in the fleet's log. */
  readonly name: string;
  /** The node directory (on a tmpfs, so slots and data cost memory, not disk writes). */
  readonly dir: string;
  /** Its own address; the management API listens there. */
  readonly address: string;
  /** How long the node is down between the agent's stop and the next boot. */
  readonly rebootTimeMs: number;
  readonly slotSize: number;
  readonly settings: Omit<AgentSettings, 'listen' | 'address'>;
  readonly managementPort: number;
  /** Where the agent's JSON log lines go (every node of a fleet shares one stream). */
  readonly logTo: Writable;
  /** Bounded by this when a reboot stops the agent: a hung service must not hold a reboot. */
  readonly shutdownGraceMs: number;
}

/** Records kept per node for `Logs`: the real agent keeps 4096; a fleet keeps fewer each. */
const logRingCapacity = 256;

export class HollowNode {
  readonly name: string;
  readonly address: string;
  readonly directory: NodeDirectory;
  #options: HollowNodeOptions;
  #disk: EmulatedDisk;
  #variables = new MemoryVarStore();
  #console: ConsoleLog;
  #boots: number;
  #agent: RunningAgent | undefined;
  #rebooting = false;
  /** When the reboot under way began (its agent asked to stop); recorded with the next boot. */
  #downAtMs: number | undefined;
  #stopped = false;
  #log: Logger;

  private constructor(
    options: HollowNodeOptions,
    directory: NodeDirectory,
    disk: EmulatedDisk,
    boots: number,
  ) {
    this.name = options.name;
    this.address = options.address;
    this.#options = options;
    this.directory = directory;
    this.#disk = disk;
    this.#boots = boots;
    this.#console = new ConsoleLog(directory.consoleLog);
    this.#log = createLogger({
      format: 'json',
      destination: options.logTo,
      fields: { service: 'hollow-node', hollow: options.name },
    });
  }

  /**
   * Creates the node's directory and installs it (the system image into slot A, the loader on
   * the ESP), with `parameters` as its node parameters.
   */
  static async create(
    options: HollowNodeOptions,
    install: { readonly systemImage: string; readonly loader: string },
    parameters: string,
  ): Promise<HollowNode> {
    const directory = nodeLayout(options.dir);
    await rm(directory.dir, { recursive: true, force: true });
    const disk = await prepareNodeDirectory(directory, options.slotSize);
    await installSystem(directory, disk, install);
    await writeFile(directory.parameters, parameters);
    return new HollowNode(
      options,
      directory,
      disk,
      (await readBootRecords(directory.bootsLog)).length,
    );
  }

  /** Boots the node (once): resolves when the agent runs or the boot failed. */
  async powerOn(): Promise<void> {
    await this.#boot();
  }

  /** Stops the agent for good. */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    await this.#agent?.stop();
    this.#agent = undefined;
  }

  async #boot(): Promise<void> {
    if (this.#stopped) return;
    const bootTimeMs = Date.now();
    const boot = ++this.#boots;
    const downAtMs = this.#downAtMs;
    this.#downAtMs = undefined;
    const directory = this.directory;
    const { choice, skipped } = await runBootManager({
      store: this.#variables,
      espDir: directory.esp,
      esp: this.#disk.esp,
      serial: this.#console,
    });
    const record = {
      boot,
      at: new Date(bootTimeMs).toISOString(),
      bootCurrent:
        choice?.bootId === null || choice === undefined ? null : formatBootId(choice.bootId),
      via: choice?.via ?? null,
      loader: choice?.loaderPath ?? null,
      slot: choice?.slot ?? null,
      version: choice?.loader.version ?? null,
      skipped,
      ...(downAtMs === undefined ? {} : { downAt: new Date(downAtMs).toISOString() }),
    };
    if (choice === undefined) {
      // As a process node halts: nothing will ever boot.
      await appendBootRecord(directory.bootsLog, {
        ...record,
        outcome: 'no bootable option or device',
      });
      return;
    }
    try {
      // The "kernel": mount the slot's system image, whose release.json the agent reads.
      await rm(directory.run, { recursive: true, force: true });
      await mkdir(directory.rootfs, { recursive: true });
      await mountSystemImage(slotPath(directory, choice.slot), directory.rootfs);
      const release = await readRelease(pathToFileURL(join(directory.rootfs, 'release.json')));
      const identity = await NodeIdentity.loadOrCreate(
        new NodeLayout(agentRoots(directory)).nodeKey,
      );
      const ring = new LogRing(logRingCapacity);
      const log = createLogger({
        format: 'json',
        ring,
        destination: this.#options.logTo,
        fields: {
          service: 'node-agent',
          node: identity.nodeId,
          version: release.version,
          hollow: this.name,
        },
      });
      const agent = await startAgent({
        machine: {
          layout: new NodeLayout(agentRoots(directory)),
          variables: new BootVariables(this.#variables),
          esp: {
            partitionNumber: this.#disk.esp.partitionNumber,
            start: BigInt(this.#disk.esp.start),
            size: BigInt(this.#disk.esp.size),
            guid: this.#disk.esp.guid,
          },
          runningSlot: choice.slot,
          bootTimeMs,
          reboot: (reason) => {
            log.warn('rebooting', { reason });
            this.#reboot();
          },
          fail: (reason) => {
            log.error('agent failed; rebooting', { reason });
            this.#reboot();
          },
        },
        settings: {
          ...this.#options.settings,
          listen: `${this.#options.address}:${String(this.#options.managementPort)}`,
          address: this.#options.address,
        },
        release,
        identity,
        log,
        ring,
        fetch,
      });
      this.#agent = agent;
      const servingMs = agent.servingSinceMs();
      await appendBootRecord(directory.bootsLog, {
        ...record,
        outcome: 'started',
        ...(servingMs === undefined ? {} : { servingAt: new Date(servingMs).toISOString() }),
      });
    } catch (error) {
      await appendBootRecord(directory.bootsLog, { ...record, outcome: errorMessage(error) });
      this.#log.error('boot failed', { boot, error: errorMessage(error) });
      this.#reboot();
    }
  }

  /** Stops this boot's agent, stays down for the reboot time, boots again. */
  #reboot(): void {
    if (this.#rebooting || this.#stopped) return;
    this.#rebooting = true;
    this.#downAtMs = Date.now();
    const agent = this.#agent;
    this.#agent = undefined;
    void (async () => {
      try {
        await Promise.race([agent?.stop(), sleep(this.#options.shutdownGraceMs)]);
        await sleep(this.#options.rebootTimeMs);
        this.#rebooting = false;
        await this.#boot();
      } catch (error) {
        this.#rebooting = false;
        this.#log.error('reboot failed', { error: errorMessage(error) });
      }
    })();
  }
}
