// etcd's Cluster and Maintenance calls over its JSON gateway (POST /v3/...), with mTLS. The
// gateway carries the same messages as etcd's gRPC API; it is used instead of the etcd3 package
// because that one loads its .proto file from disk at run time, which a single-file bundle lacks.
import { request } from 'node:https';
import type { ClientCredentials } from './api-access.js';

export interface EtcdMember {
  /** uint64 as a decimal string, as the gateway writes it. */
  readonly id: string;
  /** Empty for a learner that has not started yet. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** One member's own view of itself (maintenance/status), answered without a leader. */
export interface EtcdMemberStatus {
  /** The answering member's ID (uint64 as a decimal string). */
  readonly memberId: string;
  /** Whether this member is a learner, as its own applied membership says. */
  readonly isLearner: boolean;
}

/** A failed etcd call; `message` carries etcd's own words. */
export class EtcdCallError extends Error {
  override readonly name = 'EtcdCallError';
}

export class EtcdCluster {
  readonly #endpoint: string;
  readonly #credentials: ClientCredentials;
  readonly #timeoutMs: number;

  /** `endpoint` is a client URL (https://host:2379). */
  constructor(endpoint: string, credentials: ClientCredentials, timeoutMs = 5_000) {
    this.#endpoint = endpoint;
    this.#credentials = credentials;
    this.#timeoutMs = timeoutMs;
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  /** The same credentials against another member. */
  at(endpoint: string, timeoutMs = this.#timeoutMs): EtcdCluster {
    return new EtcdCluster(endpoint, this.#credentials, timeoutMs);
  }

  /** linearizable: through the leader (false: this member's own view, also on a learner). */
  async memberList(linearizable: boolean): Promise<EtcdMember[]> {
    const response = await this.#post('/v3/cluster/member/list', { linearizable });
    return members(response);
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<EtcdMember[]> {
    return members(await this.#post('/v3/cluster/member/add', { peerURLs: peerUrls, isLearner }));
  }

  async memberPromote(id: string): Promise<void> {
    await this.#post('/v3/cluster/member/promote', { ID: id });
  }

  async memberRemove(id: string): Promise<void> {
    await this.#post('/v3/cluster/member/remove', { ID: id });
  }

  /**
   * This member's own status, answered without asking the leader: which member answers (by
   * ID, not by name) and whether it is a learner.
   */
  async status(): Promise<EtcdMemberStatus> {
    const response = await this.#post('/v3/maintenance/status', {});
    const header = isRecord(response) ? response.header : undefined;
    const memberId = isRecord(header) ? header.member_id : undefined;
    if (!isRecord(response) || typeof memberId !== 'string' || memberId === '') {
      throw new EtcdCallError('/v3/maintenance/status: no member ID in the answer');
    }
    // The gateway leaves out fields at their default: no isLearner means a voting member.
    return { memberId, isLearner: response.isLearner === true };
  }

  /**
   * Resolves when this member serves a linearizable read and reports no alarm: it has a leader
   * and the cluster has quorum, as `etcdctl endpoint health` checks. A learner never passes.
   * A member that merely runs, without a leader, fails: unlike maintenance/status, which every
   * member answers on its own.
   */
  async health(): Promise<void> {
    await this.#post('/v3/kv/range', { key: Buffer.from('health').toString('base64') });
    const alarms = alarmNames(await this.#post('/v3/maintenance/alarm', {}));
    if (alarms.length > 0) throw new EtcdCallError(`alarm raised: ${alarms.join(', ')}`);
  }

  #post(path: string, body: object): Promise<unknown> {
    return callEtcd(`${this.#endpoint}${path}`, path, this.#credentials, this.#timeoutMs, body);
  }
}

/**
 * The members as the member at `peerUrl` (https://address:2380) knows them, from its peer
 * endpoint `GET /members`: the way to see membership without a client port, for a peer (the
 * credentials must be an etcd member certificate). The member's own applied view, not a
 * linearizable one.
 */
export async function etcdPeerMembers(
  peerUrl: string,
  credentials: ClientCredentials,
  timeoutMs: number,
): Promise<EtcdMember[]> {
  const answer = await callEtcd(`${peerUrl}/members`, '/members', credentials, timeoutMs);
  return members({ members: answer });
}

/** One request to etcd (POST with `body`, else GET); resolves with its JSON answer. */
function callEtcd(
  url: string,
  path: string,
  credentials: ClientCredentials,
  timeoutMs: number,
  body?: object,
): Promise<unknown> {
  const { caPem, certificatePem, keyPem } = credentials;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        ca: caPem,
        cert: certificatePem,
        key: keyPem,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            reject(new EtcdCallError(`${path}: HTTP ${String(res.statusCode)}: ${text}`));
            return;
          }
          if (res.statusCode !== 200) {
            reject(new EtcdCallError(`${path}: ${errorText(parsed) ?? text}`));
          } else {
            resolve(parsed);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      req.destroy(new EtcdCallError(`${path}: no answer within ${String(timeoutMs)} ms`));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function errorText(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if ('message' in value && typeof value.message === 'string') return value.message;
  if ('error' in value && typeof value.error === 'string') return value.error;
  return undefined;
}

function alarmNames(value: unknown): string[] {
  if (!isRecord(value) || !Array.isArray(value.alarms)) return [];
  return value.alarms.map((alarm: unknown) =>
    isRecord(alarm) && typeof alarm.alarm === 'string' ? alarm.alarm : 'unknown alarm',
  );
}

function members(value: unknown): EtcdMember[] {
  if (typeof value !== 'object' || value === null || !('members' in value)) return [];
  const list = value.members;
  if (!Array.isArray(list)) return [];
  return list.map((raw: unknown): EtcdMember => {
    const field = (key: string): unknown => (isRecord(raw) ? raw[key] : undefined);
    const strings = (key: string): string[] => {
      const found = field(key);
      return Array.isArray(found) ? found.map(String) : [];
    };
    // The client API's gateway says ID (a string); the peer endpoint says id (a number).
    const id = field('ID') ?? field('id');
    const name = field('name');
    return {
      id: typeof id === 'string' || typeof id === 'number' ? String(id) : '',
      name: typeof name === 'string' ? name : '',
      peerUrls: strings('peerURLs'),
      clientUrls: strings('clientURLs'),
      isLearner: field('isLearner') === true,
    };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
