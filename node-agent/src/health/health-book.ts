// The node's health checks as they last ran, kept per source (the node's own checks, the role
// services), with when each last turned ok or failing. Health is the conjunction of them all.

/** One check's outcome as its source computed it. */
export interface CheckResult {
  /** Stable name (data-partition, etcd, …); unique across sources. */
  readonly name: string;
  readonly ok: boolean;
  /** What the check found; when failing, why. */
  readonly message: string;
}

/** A check as reported: its last outcome and when it last turned ok or failing. */
export interface HealthCheckReport extends CheckResult {
  readonly sinceMs: number;
}

export interface NodeHealth {
  /** Every check passes. */
  readonly healthy: boolean;
  /** The failing checks, `name: message` joined by `; `; '' when healthy. */
  readonly message: string;
}

export interface HealthBookOptions {
  /** Called after a check appeared, went, or changed its outcome or message. */
  readonly onChange?: () => void;
  readonly now?: () => number;
}

export class HealthBook {
  readonly #sources = new Map<string, readonly HealthCheckReport[]>();
  readonly #onChange: () => void;
  readonly #now: () => number;

  /** `sources` fixes the order checks are listed in, whatever order they first report in. */
  constructor(sources: readonly string[], options: HealthBookOptions = {}) {
    for (const source of sources) this.#sources.set(source, []);
    this.#onChange = options.onChange ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /** Replaces what `source` reports: checks it no longer lists are gone. */
  record(source: string, results: readonly CheckResult[]): void {
    const before = this.#sources.get(source);
    if (before === undefined) throw new Error(`health source ${source} was not declared`);
    const now = this.#now();
    const after = results.map((result): HealthCheckReport => {
      const previous = before.find((check) => check.name === result.name);
      const sinceMs = previous !== undefined && previous.ok === result.ok ? previous.sinceMs : now;
      return { name: result.name, ok: result.ok, message: result.message, sinceMs };
    });
    this.#sources.set(source, after);
    if (!sameChecks(before, after)) this.#onChange();
  }

  /** Every check, sources in their declared order. */
  get checks(): readonly HealthCheckReport[] {
    return [...this.#sources.values()].flat();
  }

  get health(): NodeHealth {
    const failing = this.checks.filter((check) => !check.ok);
    return {
      healthy: failing.length === 0,
      message: failing.map((check) => `${check.name}: ${check.message}`).join('; '),
    };
  }
}

function sameChecks(a: readonly HealthCheckReport[], b: readonly HealthCheckReport[]): boolean {
  return (
    a.length === b.length &&
    a.every((check, index) => {
      const other = b[index];
      return (
        other !== undefined &&
        other.name === check.name &&
        other.ok === check.ok &&
        other.message === check.message
      );
    })
  );
}
