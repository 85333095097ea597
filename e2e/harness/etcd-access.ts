// How tests see etcd, whose client API is on each node's loopback: a member's health through its
// agent (NodeManagement.CheckConsensus, as the owner), and requests made from inside a node's
// network namespace with certificates read from its disk (the host is the nodes' hardware):
// the membership on a peer endpoint, and what etcd answers to a given certificate.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Metadata, credentials } from '@grpc/grpc-js';
import {
  NodeLayout,
  NodeManagementClient,
  controlPlanePorts,
  nodeManagementPort,
  type CheckConsensusResponse,
} from '@metropolis/api';
import type { ClientCredentials } from '@metropolis/control-plane';
import type { ProcessNode } from '@metropolis/process-node';

const run = promisify(execFile);

/** NodeManagement.CheckConsensus on the agent at `address`, with `tls` (owner or operator). */
export async function checkConsensus(
  address: string,
  tls: ClientCredentials,
  timeoutMs = 10_000,
): Promise<CheckConsensusResponse> {
  const client = new NodeManagementClient(
    `${address}:${String(nodeManagementPort)}`,
    credentials.createSsl(
      Buffer.from(tls.caPem),
      Buffer.from(tls.keyPem),
      Buffer.from(tls.certificatePem),
    ),
  );
  try {
    return await new Promise((resolve, reject) => {
      client.checkConsensus(
        {},
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, answer) => {
          if (error === null) resolve(answer);
          else reject(error);
        },
      );
    });
  } finally {
    client.close();
  }
}

/** The credential files of `node`'s role services (data/pki/control-plane), read as PEM. */
export async function roleCredentials(
  node: ProcessNode,
  pair: 'etcd' | 'kube-apiserver-etcd-client' | 'operator',
): Promise<ClientCredentials> {
  const layout = new NodeLayout({ ...node.layout, efivarfs: node.layout.efivars });
  const dir = layout.controlPlanePki;
  const ca = pair === 'operator' ? layout.caCertificate : join(dir, 'etcd-ca.pem');
  return {
    caPem: await readFile(ca, 'utf8'),
    certificatePem: await readFile(join(dir, `${pair}.pem`), 'utf8'),
    keyPem: await readFile(join(dir, `${pair}-key.pem`), 'utf8'),
  };
}

/**
 * The members as the member at `address` knows them, from its peer endpoint (GET /members),
 * asked from inside `from`'s network namespace: etcd accepts a peer certificate only from an
 * address the certificate names, so `tls` is a member certificate of `from`.
 */
export async function peerMembers(
  from: ProcessNode,
  address: string,
  tls: ClientCredentials,
): Promise<{ name: string; isLearner: boolean }[]> {
  const url = `https://${address}:${String(controlPlanePorts.etcdPeer)}/members`;
  const answer = await requestInNetns(from, url, tls);
  if (answer.status !== 200) throw new Error(`${url}: ${answer.error ?? answer.body}`);
  const parsed: unknown = JSON.parse(answer.body);
  if (!Array.isArray(parsed)) throw new Error(`${url}: not a list: ${answer.body}`);
  return parsed.map((member: unknown) => {
    const record = typeof member === 'object' && member !== null ? member : {};
    return {
      name: 'name' in record && typeof record.name === 'string' ? record.name : '',
      isLearner: 'isLearner' in record && record.isLearner === true,
    };
  });
}

/**
 * etcd's answer to `maintenance/status` on `node`'s loopback client URL, asked from inside the
 * node's network namespace with `tls`: 'ok', or why it failed (etcd refused the certificate).
 */
export async function loopbackEtcdStatus(
  node: ProcessNode,
  tls: ClientCredentials,
): Promise<string> {
  const url = `https://127.0.0.1:${String(controlPlanePorts.etcdClient)}/v3/maintenance/status`;
  const answer = await requestInNetns(node, url, tls, '{}');
  return answer.status === 200 ? 'ok' : (answer.error ?? `HTTP ${String(answer.status)}`);
}

/**
 * Whether etcd's peer port on `node`'s address answers GET /members to `tls`, asked from
 * inside the node's network namespace (so the source address is the node's own): 'ok' or why
 * not.
 */
export async function peerPortAnswer(node: ProcessNode, tls: ClientCredentials): Promise<string> {
  const url = `https://${addressOf(node)}:${String(controlPlanePorts.etcdPeer)}/members`;
  const answer = await requestInNetns(node, url, tls);
  return answer.status === 200 ? 'ok' : (answer.error ?? `HTTP ${String(answer.status)}`);
}

interface NetnsAnswer {
  readonly status: number;
  readonly body: string;
  readonly error?: string;
}

/** One HTTPS request (POST with `body`, else GET) by a node process in `node`'s namespace. */
async function requestInNetns(
  node: ProcessNode,
  url: string,
  tls: ClientCredentials,
  body?: string,
): Promise<NetnsAnswer> {
  const script = `
    const env = process.env;
    const req = require('node:https').request(env.URL, {
      method: env.BODY === undefined ? 'GET' : 'POST',
      ca: env.TLS_CA, cert: env.TLS_CERT, key: env.TLS_KEY, timeout: 5000,
    }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: text })));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (error) => console.log(JSON.stringify({ status: 0, body: '', error: error.message })));
    req.end(env.BODY);`;
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', netnsOf(node), process.execPath, '-e', script],
    {
      env: {
        ...process.env,
        URL: url,
        TLS_CA: tls.caPem,
        TLS_CERT: tls.certificatePem,
        TLS_KEY: tls.keyPem,
        ...(body === undefined ? {} : { BODY: body }),
      },
    },
  );
  return JSON.parse(stdout) as NetnsAnswer;
}

/**
 * Cuts `node` off from etcd's peer traffic inside its network namespace: its packets to other
 * members' peer ports and its peer port's answers go to a blackhole (policy routing; the
 * machine has neither nft nor iptables). Its agent and its loopback stay reachable. Returns
 * what heals it.
 */
export async function partitionEtcdPeers(node: ProcessNode): Promise<() => Promise<void>> {
  const netns = netnsOf(node);
  const table = '2380';
  const port = String(controlPlanePorts.etcdPeer);
  const rules = [
    ['ipproto', 'tcp', 'dport', port],
    ['ipproto', 'tcp', 'sport', port],
  ];
  const ip = (...args: string[]) => run('ip', ['netns', 'exec', netns, 'ip', ...args]);
  await ip('route', 'add', 'blackhole', 'default', 'table', table);
  for (const rule of rules) await ip('rule', 'add', ...rule, 'table', table, 'pref', '100');
  return async () => {
    for (const rule of rules) await ip('rule', 'del', ...rule, 'table', table, 'pref', '100');
    await ip('route', 'del', 'blackhole', 'default', 'table', table);
  };
}

function addressOf(node: ProcessNode): string {
  if (node.address === undefined) throw new Error(`${node.name} has no address`);
  return node.address;
}

function netnsOf(node: ProcessNode): string {
  if (node.netns === undefined) throw new Error(`${node.name} has no network namespace`);
  return node.netns;
}
