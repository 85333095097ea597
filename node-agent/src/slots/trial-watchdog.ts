// A trial boot (the running slot is not first in BootOrder: it came through BootNext) must be
// committed in time; otherwise the node reboots and the firmware falls back to BootOrder.
import { sleep, untilAborted } from '@metropolis/supervisor';
import type { SlotManager } from './slot-manager.js';

export interface TrialWatchdogDeps {
  readonly slots: SlotManager;
  readonly bootTimeMs: number;
  readonly timeoutMs: number;
  readonly reboot: (reason: string) => void;
  readonly now?: () => number;
}

export class TrialWatchdog {
  #deps: TrialWatchdogDeps;

  constructor(deps: TrialWatchdogDeps) {
    this.#deps = deps;
  }

  /** When an uncommitted trial boot runs out. */
  get deadlineMs(): number {
    return this.#deps.bootTimeMs + this.#deps.timeoutMs;
  }

  /** Runnable: waits for the deadline and reboots if the boot is still a trial then. */
  async run(signal: AbortSignal): Promise<void> {
    const { slots, reboot } = this.#deps;
    const now = this.#deps.now ?? Date.now;
    if (!(await slots.state()).trial) return untilAborted(signal);
    await sleep(Math.max(0, this.deadlineMs - now()), signal);
    if (signal.aborted) return;
    const state = await slots.state();
    if (state.trial) {
      reboot(
        `trial boot of slot ${state.runningSlot} not committed within ${String(this.#deps.timeoutMs)} ms`,
      );
    }
    return untilAborted(signal);
  }
}
