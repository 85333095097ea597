// The etcd cluster's membership as the operator changes it, on the local member: a joining node
// is added as a learner and promoted once it caught up; a leaving node is removed only if the
// members left keep quorum. Members are matched by peer URL, since a learner has no name until
// it starts. Other members' client APIs are on their nodes' loopback: their agents answer for
// them (CheckConsensus), found by the address in the member's peer URL.
import { setTimeout as delay } from 'node:timers/promises';
import { controlPlanePorts } from '@metropolis/api';
import { EtcdCluster, type ClientCredentials, type EtcdMember } from '@metropolis/control-plane';
import { errorMessage } from '@metropolis/errors';
import { OperatorError } from '../errors.js';
import type { ConsensusCheck } from '../node-client/node-agent-client.js';

export interface ConsensusMember {
  readonly id: string;
  /** The node ID once the member started; empty for a learner that never started. */
  readonly name: string;
  readonly peerUrl: string;
  readonly voting: boolean;
  /** Whether the member served a quorum (linearizable) read just now. */
  readonly healthy: boolean;
}

/**
 * Asks the agent of the node at `address` about its etcd member (CheckConsensus).
 * @throws when no agent at that address answers
 */
export type MemberProbe = (address: string) => Promise<ConsensusCheck>;

/** What the reconcilers need of etcd; tests may substitute their own. */
export interface ConsensusMembership {
  /** Adds the node as a learner unless it is a member; returns its --initial-cluster. */
  join(nodeId: string, address: string): Promise<string>;
  /** voting: promoted (or already voting); catchingUp: try again shortly; absent: not a member. */
  promote(address: string): Promise<'voting' | 'catchingUp' | 'absent'>;
  /** Removes the node's member; refuses (OPERATOR_QUORUM) if the rest would lose quorum. */
  remove(address: string): Promise<void>;
  /** Every member with its health, asked now. */
  members(): Promise<ConsensusMember[]>;
}

/**
 * How soon to ask etcd again to promote a learner that is still catching up, `waitingMs` after
 * its roles were applied. etcd decides when a learner is ready (started, and its log close to
 * the leader's); a fresh learner gets there within a second of starting, so asking often at
 * first promotes it about as soon as etcd allows. One that takes longer is asked every second.
 */
export function promoteRetryMs(waitingMs: number): number {
  return waitingMs < 10_000 ? 100 : 1_000;
}

/** How often a change etcd refuses for now (see {@link retrying}) is tried again. */
const waitRetryMs = 250;

export function peerUrlOf(address: string): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `https://${host}:${String(controlPlanePorts.etcdPeer)}`;
}

/** The address in a member's peer URL (https://address:2380), or '' for a malformed one. */
export function addressOfPeerUrl(peerUrl: string): string {
  if (!URL.canParse(peerUrl)) return '';
  const host = new URL(peerUrl).hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

export class EtcdMembership implements ConsensusMembership {
  readonly #etcd: EtcdCluster;
  readonly #probe: MemberProbe;

  /**
   * `endpoint`: the local member's client URL (loopback), where membership changes are made;
   * `probe`: how another member's health is asked.
   */
  constructor(endpoint: string, credentials: ClientCredentials, probe: MemberProbe) {
    this.#etcd = new EtcdCluster(endpoint, credentials);
    this.#probe = probe;
  }

  async join(nodeId: string, address: string): Promise<string> {
    // etcd takes one learner at a time: a node joining right beside another waits for a few
    // seconds rather than failing for the 30 s retry.
    return retrying(/too many learner/i, 15_000, () => this.#joinOnce(nodeId, address));
  }

  async #joinOnce(nodeId: string, address: string): Promise<string> {
    const peerUrl = peerUrlOf(address);
    let list = await this.#list();
    if (!list.some((member) => member.peerUrls.includes(peerUrl))) {
      await this.#call('add a learner', () => this.#etcd.memberAdd([peerUrl], true));
      list = await this.#list();
    }
    return list
      .map((member) => {
        const url = member.peerUrls[0] ?? '';
        const name = url === peerUrl ? nodeId : member.name || `member-${member.id}`;
        return `${name}=${url}`;
      })
      .join(',');
  }

  async promote(address: string): Promise<'voting' | 'catchingUp' | 'absent'> {
    const member = (await this.#list()).find((m) => m.peerUrls.includes(peerUrlOf(address)));
    if (member === undefined) return 'absent';
    if (!member.isLearner) return 'voting';
    // Not before the learner serves clients: until then its agent may restart it once (see
    // node-agent's roles), which must not cost quorum.
    if (!(await this.#check(member.peerUrls[0] ?? '')).serves) return 'catchingUp';
    try {
      await this.#etcd.memberPromote(member.id);
      return 'voting';
    } catch (error) {
      // etcd refuses until the learner has started and its log is close to the leader's.
      if (/in sync|not started|not ready/i.test(errorMessage(error))) return 'catchingUp';
      throw new OperatorError('OPERATOR_ETCD', `etcd: promote a learner: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  async remove(address: string): Promise<void> {
    const peerUrl = peerUrlOf(address);
    const members = await this.members();
    const target = members.find((member) => member.peerUrl === peerUrl);
    if (target === undefined) return;
    const rest = members.filter((member) => member !== target && member.voting);
    if (target.voting) {
      if (rest.length === 0) {
        throw new OperatorError(
          'OPERATOR_QUORUM',
          'this is the last voting etcd member: removing it would leave the cluster without consensus',
        );
      }
      const healthy = rest.filter((member) => member.healthy).length;
      const quorum = Math.floor(rest.length / 2) + 1;
      if (healthy < quorum) {
        throw new OperatorError(
          'OPERATOR_QUORUM',
          `removing this member would leave ${String(rest.length)} voting members of which only ` +
            `${String(healthy)} are healthy, fewer than the ${String(quorum)} quorum needs`,
        );
      }
    }
    await this.#call('remove a member', () => this.#etcd.memberRemove(target.id));
  }

  async members(): Promise<ConsensusMember[]> {
    const list = await this.#list();
    return Promise.all(
      list.map(async (member) => {
        const peerUrl = member.peerUrls[0] ?? '';
        return {
          id: member.id,
          name: member.name,
          peerUrl,
          voting: !member.isLearner,
          // A quorum read, not a status request: a member that just restarted and has no
          // leader yet, or one cut off from the others, must not count towards the quorum a
          // removal or a reboot relies on.
          healthy: (await this.#check(peerUrl)).quorate,
        };
      }),
    );
  }

  /**
   * The member's own answer through its node's agent. Fails fast: a member whose agent does
   * not answer is unhealthy, not a reason to wait.
   */
  async #check(peerUrl: string): Promise<ConsensusCheck> {
    return this.#probe(addressOfPeerUrl(peerUrl)).catch((error: unknown) => ({
      member: false,
      serves: false,
      learner: false,
      quorate: false,
      error: errorMessage(error),
    }));
  }

  #list(): Promise<EtcdMember[]> {
    return this.#call('list members', () => this.#etcd.memberList(true));
  }

  async #call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw new OperatorError('OPERATOR_ETCD', `etcd: ${what}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }
}

/**
 * Runs `change`, and again every {@link waitRetryMs} while etcd refuses it with a reason
 * matching `refusal` that passes on its own, for at most `forMs`.
 */
async function retrying<T>(refusal: RegExp, forMs: number, change: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      return await change();
    } catch (error) {
      if (!refusal.test(errorMessage(error)) || Date.now() > deadline) throw error;
      await delay(waitRetryMs);
    }
  }
}
