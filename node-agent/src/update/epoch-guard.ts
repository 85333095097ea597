// Anti-rollback: the security epoch a node has committed, kept on the data partition, and the
// epoch of the release in each slot. Staging, booting or committing a release below the
// committed epoch is refused unless the downgrade was allowed when it was staged.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { allSystemSlots } from '@metropolis/api';
import { isEpoch } from '@metropolis/bundle';
import { writeFileAtomic } from '@metropolis/process';
import { AgentError } from '../errors.js';
import type { Slot } from '../slots/slot.js';

interface SlotEpoch {
  readonly epoch: number;
  /** Staged with allowDowngrade: this slot may be booted and committed below the epoch. */
  readonly downgradeAllowed: boolean;
}

interface EpochState {
  readonly committed: number;
  readonly slots: Partial<Record<Slot, SlotEpoch>>;
}

export interface EpochGuardDeps {
  /** The state file (NodeLayout.securityEpochs). */
  readonly path: string;
  readonly runningSlot: Slot;
  /** The running release's epoch (its release.json). */
  readonly runningEpoch: number;
}

export class EpochGuard {
  readonly #deps: EpochGuardDeps;

  constructor(deps: EpochGuardDeps) {
    this.#deps = deps;
  }

  /** The epoch this node has committed: no release below it is staged, booted or committed. */
  async committed(): Promise<number> {
    return (await this.#read()).committed;
  }

  /** Refuses a bundle of `epoch` below the committed one, unless the downgrade is allowed. */
  async checkStage(epoch: number, version: string, allowDowngrade: boolean): Promise<void> {
    const committed = await this.committed();
    if (epoch < committed && !allowDowngrade) {
      throw new AgentError(
        'AGENT_DOWNGRADE_REFUSED',
        `bundle ${version} has security epoch ${String(epoch)}, below the epoch ${String(committed)} this node has committed; an OSUpdate with allowDowngrade (owner only) may stage it`,
      );
    }
  }

  /** Before a slot is overwritten: what it held is gone, so is its epoch. */
  async forgetSlot(slot: Slot): Promise<void> {
    const state = await this.#read();
    if (state.slots[slot] === undefined) return;
    const slots: Partial<Record<Slot, SlotEpoch>> = {};
    for (const other of allSystemSlots) {
      const kept = state.slots[other];
      if (other !== slot && kept !== undefined) slots[other] = kept;
    }
    await this.#write({ ...state, slots });
  }

  /** After a slot was written with a verified release. */
  async recordSlot(slot: Slot, epoch: number, downgradeAllowed: boolean): Promise<void> {
    const state = await this.#read();
    await this.#write({ ...state, slots: { ...state.slots, [slot]: { epoch, downgradeAllowed } } });
  }

  /** Refuses to boot `slot` (SetNextBoot, Rollback) when its release is below the epoch. */
  async checkBoot(slot: Slot): Promise<void> {
    const state = await this.#read();
    const { epoch, downgradeAllowed } = this.#slotEpoch(state, slot);
    if (epoch < state.committed && !downgradeAllowed) {
      throw new AgentError(
        'AGENT_DOWNGRADE_REFUSED',
        `slot ${slot} holds a release of security epoch ${String(epoch)}, below the epoch ${String(state.committed)} this node has committed`,
      );
    }
  }

  /**
   * A boot of the running slot is committed: the committed epoch becomes the running release's,
   * raised, or lowered only for a release staged with allowDowngrade.
   */
  async commit(): Promise<void> {
    const state = await this.#read();
    const { epoch, downgradeAllowed } = this.#slotEpoch(state, this.#deps.runningSlot);
    if (epoch === state.committed) return;
    if (epoch < state.committed && !downgradeAllowed) {
      throw new AgentError(
        'AGENT_DOWNGRADE_REFUSED',
        `the running release has security epoch ${String(epoch)}, below the epoch ${String(state.committed)} this node has committed; it is not committed`,
      );
    }
    await this.#write({ ...state, committed: epoch });
  }

  /** At boot, when the running slot is already the committed one: the epoch only rises. */
  async noteCommittedBoot(): Promise<void> {
    const state = await this.#read();
    if (this.#deps.runningEpoch > state.committed) {
      await this.#write({ ...state, committed: this.#deps.runningEpoch });
    }
  }

  #slotEpoch(state: EpochState, slot: Slot): SlotEpoch {
    const recorded = state.slots[slot];
    if (slot !== this.#deps.runningSlot) return recorded ?? { epoch: 0, downgradeAllowed: false };
    // The running release knows its own epoch; the record only says how it was staged.
    return {
      epoch: this.#deps.runningEpoch,
      downgradeAllowed: recorded?.epoch === this.#deps.runningEpoch && recorded.downgradeAllowed,
    };
  }

  async #read(): Promise<EpochState> {
    const { path } = this.#deps;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { committed: 0, slots: {} };
      throw new AgentError('AGENT_STORAGE', `cannot read ${path}`, { cause });
    }
    return parseState(text, path);
  }

  /** Replaced atomically and synced: a power cut leaves the old state or the new one. */
  async #write(state: EpochState): Promise<void> {
    const { path } = this.#deps;
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  }
}

/** A damaged state file stops the stage or commit: guessing 0 would allow any downgrade. */
function parseState(text: string, path: string): EpochState {
  const broken = (): AgentError =>
    new AgentError('AGENT_STORAGE', `${path} is not a valid security epoch record`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw broken();
  }
  if (typeof value !== 'object' || value === null) throw broken();
  const { committed, slots } = value as { committed?: unknown; slots?: unknown };
  if (!isEpoch(committed) || typeof slots !== 'object' || slots === null) throw broken();
  const parsed: Partial<Record<Slot, SlotEpoch>> = {};
  for (const slot of allSystemSlots) {
    const entry = (slots as Record<string, unknown>)[slot];
    if (entry === undefined) continue;
    const { epoch, downgradeAllowed } = (entry ?? {}) as {
      epoch?: unknown;
      downgradeAllowed?: unknown;
    };
    if (!isEpoch(epoch) || typeof downgradeAllowed !== 'boolean') throw broken();
    parsed[slot] = { epoch, downgradeAllowed };
  }
  return { committed, slots: parsed };
}
