// The operator's one view of its node agents: exactly one connection and one supervised
// WatchStatus stream per tracked node, each node's latest report published as a Value, and the
// same connection lent to every call made of that agent (one pool for both reconcilers).
import { isDeepStrictEqual } from 'node:util';
import { errorMessage } from '@metropolis/errors';
import { Value } from '@metropolis/event';
import type { Logger } from '@metropolis/logging';
import { Supervisor, untilAborted } from '@metropolis/supervisor';
import type { OperatorMetrics } from '../metrics/operator-metrics.js';
import type { AgentReport } from './agent-report.js';
import type { AgentConnection, NodeAgentDialer } from './node-agent-client.js';

/** What the operator knows of one node agent now. */
export interface ObservedAgent {
  /** The latest report; kept while the stream reconnects; undefined before the first. */
  readonly report: AgentReport | undefined;
  /** The stream is open and has delivered a report since it opened. */
  readonly live: boolean;
}

export interface AgentObserverOptions {
  readonly dialer: NodeAgentDialer;
  readonly metrics: Pick<OperatorMetrics, 'streamsOpen' | 'streamReconnects'>;
  readonly logger: Logger;
  /** Silence after which a stream counts as lost and is reopened. */
  readonly heartbeatTimeoutMs: number;
  /**
   * Backoff of stream reconnects. Short and capped low: a node that reboots (an update step) is
   * back within seconds, and each second it is not noticed is a second the rollout waits; a
   * refused connection costs next to nothing. As the channel's own reconnect cap.
   * @default { minMs: 100, maxMs: 250 }
   */
  readonly reconnectBackoff?: { readonly minMs: number; readonly maxMs: number };
}

interface Stream {
  readonly address: string;
  readonly connection: AgentConnection;
  readonly tree: Supervisor;
}

interface NodeRecord {
  readonly name: string;
  readonly state: Value<ObservedAgent>;
  /** The address to stream from; '' for none. */
  wanted: string;
  /** Dropped from the observer once its stream has stopped (unless tracked again). */
  forgotten: boolean;
  stream: Stream | undefined;
  /** When the last message arrived, on our clock; every heartbeat moves it, nobody is woken. */
  lastHeardMs: number | undefined;
  /** A settle loop runs (it re-checks `wanted` after every await). */
  settling: boolean;
  /** The last settle loop started; run() waits for it when stopping. */
  loop: Promise<void>;
}

const notObserved: ObservedAgent = { report: undefined, live: false };

/**
 * Streams are started and stopped one at a time per node, so a node never has two: an address
 * change stops the old stream (and closes its connection) before the new one is dialed.
 */
export class AgentObserver {
  readonly #options: AgentObserverOptions;
  readonly #log: Logger;
  readonly #records = new Map<string, NodeRecord>();
  #tree: Supervisor | undefined;
  #signal: AbortSignal | undefined;
  #open = 0;

  constructor(options: AgentObserverOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /** Keeps streams until `signal` aborts, then stops every stream and closes its connection. */
  async run(signal: AbortSignal): Promise<void> {
    // Its own root: a stream that fails is the agent's news, logged at warn by onRestart below.
    this.#signal = signal;
    this.#tree = new Supervisor(signal, { name: 'agents' });
    for (const record of this.#records.values()) this.#settle(record);
    await untilAborted(signal);
    // Aborted: every settle loop now wants no stream; wait until each has closed its own.
    for (const record of this.#records.values()) this.#settle(record);
    await Promise.all([...this.#records.values()].map((record) => record.loop));
    await this.#tree.done();
  }

  /** Observes `node` at `address`; '' keeps its last report but streams from nowhere. */
  track(node: string, address: string): void {
    const record = this.#records.get(node) ?? this.#add(node);
    record.forgotten = false;
    record.wanted = address;
    this.#settle(record);
  }

  /** Stops observing `node`: its stream closes and its value goes back to nothing known. */
  forget(node: string): void {
    const record = this.#records.get(node);
    if (record === undefined) return;
    record.forgotten = true;
    record.wanted = '';
    record.state.set(notObserved);
    this.#options.metrics.streamReconnects.remove({ node });
    this.#settle(record);
  }

  /** The node's latest report and liveness; undefined while it is not tracked. */
  agent(node: string): Value<ObservedAgent> | undefined {
    const record = this.#records.get(node);
    return record === undefined || record.forgotten ? undefined : record.state;
  }

  /** When the node's agent last sent anything, on this process's clock. */
  lastHeardMs(node: string): number | undefined {
    return this.#records.get(node)?.lastHeardMs;
  }

  /** The connection to the node's agent, while it has a stream (the same one serves calls). */
  connection(node: string): AgentConnection | undefined {
    return this.#records.get(node)?.stream?.connection;
  }

  /**
   * The connection to the agent the operator streams from at `address` (an etcd member is
   * known by the address in its peer URL), or undefined when none is tracked there.
   */
  connectionAt(address: string): AgentConnection | undefined {
    for (const record of this.#records.values()) {
      if (!record.forgotten && record.stream?.address === address) return record.stream.connection;
    }
    return undefined;
  }

  #add(node: string): NodeRecord {
    const record: NodeRecord = {
      name: node,
      state: new Value<ObservedAgent>(notObserved, { equals: isDeepStrictEqual }),
      wanted: '',
      forgotten: false,
      stream: undefined,
      lastHeardMs: undefined,
      settling: false,
      loop: Promise.resolve(),
    };
    this.#records.set(node, record);
    return record;
  }

  /** Brings the node's stream in line with `wanted`, unless a loop already does. */
  #settle(record: NodeRecord): void {
    if (this.#tree === undefined) {
      // Not running yet: run() settles every record it finds.
      if (record.forgotten) this.#records.delete(record.name);
      return;
    }
    if (record.settling) return;
    record.settling = true;
    record.loop = this.#settleLoop(record, this.#tree);
  }

  async #settleLoop(record: NodeRecord, tree: Supervisor): Promise<void> {
    for (;;) {
      const current = record.stream;
      const wanted = this.#aborted() ? '' : record.wanted;
      if ((current?.address ?? '') === wanted) {
        // In the same synchronous step as the check, so no track() can fall in between.
        record.settling = false;
        if (record.forgotten && current === undefined) this.#records.delete(record.name);
        return;
      }
      if (current !== undefined) {
        record.stream = undefined;
        this.#setOpen(-1);
        this.#publish(record, false);
        try {
          await current.tree.stop();
        } catch (error) {
          this.#log.error('status stream did not stop', {
            node: record.name,
            error: errorMessage(error),
          });
        }
        current.connection.close();
        this.#log.info('status stream stopped', { node: record.name, address: current.address });
        continue;
      }
      record.stream = this.#start(record, tree, wanted);
      this.#setOpen(1);
    }
  }

  // A method, so the compiler does not assume the flag is unchanged across awaits.
  #aborted(): boolean {
    return this.#signal?.aborted !== false;
  }

  #start(record: NodeRecord, tree: Supervisor, address: string): Stream {
    const { dialer, metrics, heartbeatTimeoutMs } = this.#options;
    const backoff = this.#options.reconnectBackoff ?? { minMs: 100, maxMs: 250 };
    const node = record.name;
    const log = this.#log.child({ node, address });
    const connection = dialer.dial(node, address);
    const streamTree = tree.child(node, {
      minBackoffMs: backoff.minMs,
      maxBackoffMs: backoff.maxMs,
      onRestart: (_name, error, delayMs) => {
        metrics.streamReconnects.inc({ node });
        // The first failure is news; the retries of a node that is down (several a second) are not.
        const level = delayMs <= backoff.minMs ? 'warn' : 'debug';
        log[level]('status stream lost, reconnecting', { error: errorMessage(error), delayMs });
      },
    });
    const stream: Stream = { address, connection, tree: streamTree };
    streamTree.run('status-stream', async (signal, context) => {
      try {
        await connection.watchStatus(signal, heartbeatTimeoutMs, (report) => {
          if (record.stream !== stream) return;
          record.lastHeardMs = Date.now();
          if (!record.state.get().live) context.healthy();
          this.#publish(record, true, report);
        });
      } finally {
        if (record.stream === stream) this.#publish(record, false);
      }
    });
    log.info('status stream started');
    return stream;
  }

  /** Publishes liveness and, with it, a new report; an identical one wakes nobody. */
  #publish(record: NodeRecord, live: boolean, report?: AgentReport): void {
    if (record.forgotten) return;
    record.state.set({ report: report ?? record.state.get().report, live });
  }

  #setOpen(delta: number): void {
    this.#open += delta;
    this.#options.metrics.streamsOpen.set(this.#open);
  }
}
