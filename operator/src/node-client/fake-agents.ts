// In-memory node agents for unit tests: a dialer whose connections stream the reports a test
// sends, count open streams per node (the most ever open at once, too) and record calls.
import type { RoleNotice } from '@metropolis/api';
import { NodeCallError } from '../errors.js';
import type { AgentReport } from './agent-report.js';
import type { AgentConnection, NodeAgentDialer, RolesRequest } from './node-agent-client.js';

/** A report with the fields a test does not care about filled in. */
export function fakeReport(nodeId: string, report: Partial<AgentReport> = {}): AgentReport {
  return {
    nodeId,
    version: 'v0.1.0',
    bootedSlot: 'A',
    bootOrder: ['A', 'B'],
    nextSlot: undefined,
    trial: false,
    slotVersions: { A: 'v0.1.0', B: '' },
    health: 'HEALTHY',
    healthMessage: '',
    healthChecks: [],
    roles: [],
    unknownRoles: [],
    appliedRoles: [],
    bootTimeMs: 1,
    ...report,
  };
}

interface OpenStream {
  readonly address: string;
  readonly onReport: (report: AgentReport) => void;
  readonly fail: (error: Error) => void;
}

export class FakeAgents implements NodeAgentDialer {
  readonly dials: { readonly node: string; readonly address: string }[] = [];
  readonly applyCalls: string[][] = [];
  /** Streams ever opened, per node. */
  readonly opened = new Map<string, number>();
  /** The most streams open at once, per node. */
  readonly mostOpen = new Map<string, number>();
  readonly #open = new Map<string, OpenStream[]>();
  /** Connections dialed and not yet closed, per node. */
  readonly #connections = new Map<string, number>();
  /** What applyRoles answers. @default UNIMPLEMENTED */
  applyRoles: (request: RolesRequest) => Promise<RoleNotice[]> = () =>
    Promise.reject(new NodeCallError('unimplemented', 'node roles are not built yet'));

  dial(node: string, address: string): AgentConnection {
    this.dials.push({ node, address });
    this.#connections.set(node, (this.#connections.get(node) ?? 0) + 1);
    let closed = false;
    return {
      watchStatus: (signal, idleTimeoutMs, onReport) =>
        this.#watch(node, address, signal, idleTimeoutMs, onReport),
      applyRoles: (request) => {
        this.applyCalls.push([...request.roles]);
        return this.applyRoles(request);
      },
      stageUpdate: () => Promise.resolve(),
      setNextBoot: () => Promise.resolve(),
      reboot: () => Promise.resolve(),
      commitBoot: () => Promise.resolve(),
      checkConsensus: () => Promise.reject(new NodeCallError('unimplemented', 'no etcd here')),
      close: () => {
        if (closed) return;
        closed = true;
        this.#connections.set(node, (this.#connections.get(node) ?? 1) - 1);
      },
    };
  }

  /** Streams open now to `node`, with their addresses. */
  streams(node: string): string[] {
    return (this.#open.get(node) ?? []).map((stream) => stream.address);
  }

  /** Connections to `node` not closed. */
  connections(node: string): number {
    return this.#connections.get(node) ?? 0;
  }

  /** Sends `report` on every open stream of `node`; false when none is open. */
  send(node: string, report: Partial<AgentReport> = {}): boolean {
    const open = this.#open.get(node) ?? [];
    for (const stream of open) stream.onReport(fakeReport(node, report));
    return open.length > 0;
  }

  /** The agent restarts: every open stream of `node` fails. */
  restart(node: string): void {
    for (const stream of [...(this.#open.get(node) ?? [])]) {
      stream.fail(new Error('the agent ended the stream'));
    }
  }

  /** Like the real stream: fails after `idleTimeoutMs` without a report. */
  #watch(
    node: string,
    address: string,
    signal: AbortSignal,
    idleTimeoutMs: number,
    onReport: (report: AgentReport) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      let idle: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          stream.fail(new Error(`no status for ${String(idleTimeoutMs)} ms`));
        }, idleTimeoutMs);
      };
      const close = (): void => {
        clearTimeout(idle);
        const open = this.#open.get(node) ?? [];
        this.#open.set(
          node,
          open.filter((candidate) => candidate !== stream),
        );
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        close();
        resolve();
      };
      const stream: OpenStream = {
        address,
        onReport: (report) => {
          arm();
          onReport(report);
        },
        fail: (error) => {
          close();
          reject(error);
        },
      };
      const open = [...(this.#open.get(node) ?? []), stream];
      this.#open.set(node, open);
      this.opened.set(node, (this.opened.get(node) ?? 0) + 1);
      this.mostOpen.set(node, Math.max(this.mostOpen.get(node) ?? 0, open.length));
      signal.addEventListener('abort', onAbort, { once: true });
      arm();
    });
  }
}
