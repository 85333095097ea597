// How tests see etcd from outside the nodes, now that its client API is on each node's loopback:
// a member's health through its agent (NodeManagement.CheckConsensus, as the owner), and the
// membership through a member's peer endpoint with an etcd member certificate read from a
// node's disk (the host is the nodes' hardware).
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
import {
  etcdPeerMembers,
  type ClientCredentials,
  type EtcdMember,
} from '@metropolis/control-plane';
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

/** The members as the member at `address` knows them, from its peer endpoint (GET /members). */
export async function peerMembers(
  address: string,
  member: ClientCredentials,
  timeoutMs = 3_000,
): Promise<EtcdMember[]> {
  return etcdPeerMembers(
    `https://${address}:${String(controlPlanePorts.etcdPeer)}`,
    member,
    timeoutMs,
  );
}

/**
 * etcd's answer to `maintenance/status` on `node`'s loopback client URL, asked from inside the
 * node's network namespace with `tls`: 'ok', or why it failed (etcd refused the certificate).
 */
export async function loopbackEtcdStatus(
  node: ProcessNode,
  tls: ClientCredentials,
): Promise<string> {
  const script = `
    const req = require('node:https').request('https://127.0.0.1:${String(controlPlanePorts.etcdClient)}/v3/maintenance/status', {
      method: 'POST', ca: process.env.ETCD_CA, cert: process.env.ETCD_CERT, key: process.env.ETCD_KEY, timeout: 5000,
    }, (res) => { res.resume(); res.on('end', () => console.log(res.statusCode === 200 ? 'ok' : 'HTTP ' + res.statusCode)); });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', (error) => console.log(error.message));
    req.end('{}');`;
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', netnsOf(node), process.execPath, '-e', script],
    {
      env: {
        ...process.env,
        ETCD_CA: tls.caPem,
        ETCD_CERT: tls.certificatePem,
        ETCD_KEY: tls.keyPem,
      },
    },
  );
  return stdout.trim();
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

function netnsOf(node: ProcessNode): string {
  if (node.netns === undefined) throw new Error(`${node.name} has no network namespace`);
  return node.netns;
}
