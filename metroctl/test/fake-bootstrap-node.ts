// An unowned node as metroctl meets it: NodeBootstrap over TLS with a self-signed certificate
// (CN = node ID), answering Bootstrap with certificates from a CA the test controls.
import { X509Certificate, createHash } from 'node:crypto';
import { Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  NodeBootstrapService,
  certificateRoles,
  nodeIdOf,
  type BootstrapResponse,
  type NodeBootstrapServer,
} from '@metropolis/api';
import {
  CertificateAuthority,
  KeyPair,
  ed25519PublicKeyFromRaw,
  selfSignedCertificate,
} from '@metropolis/pki';

export interface FakeNodeOptions {
  /** Issues the cluster CA and owner certificate the node hands out. */
  readonly ca: CertificateAuthority;
  readonly kubernetesEndpoint: string;
  /** Extra organizations (groups) in the owner certificate, e.g. system:masters. */
  readonly ownerGroups?: readonly string[];
  /** The certificate's common name; default: the node ID its key stands for. */
  readonly commonName?: (nodeId: string) => string;
}

/** How the node answers the next Bootstrap call. */
export type FakeAnswer = 'certificate' | 'already-bootstrapped' | 'foreign-certificate';

interface FakeState {
  calls: Buffer[];
  /** The owner signature of each call. */
  signatures: Buffer[];
  answer: FakeAnswer;
}

export class FakeBootstrapNode {
  readonly id: string;
  /** `127.0.0.1:PORT` */
  readonly address: string;
  /** sha256 of the node certificate's DER, lowercase hex. */
  readonly certificateSha256: string;
  readonly #state: FakeState;
  readonly #server: Server;

  private constructor(
    id: string,
    address: string,
    sha256: string,
    state: FakeState,
    server: Server,
  ) {
    this.id = id;
    this.address = address;
    this.certificateSha256 = sha256;
    this.#state = state;
    this.#server = server;
  }

  /** The owner public keys of every Bootstrap call received. */
  get calls(): readonly Buffer[] {
    return this.#state.calls;
  }

  get signatures(): readonly Buffer[] {
    return this.#state.signatures;
  }

  /** How the node answers the next Bootstrap call. */
  get answer(): FakeAnswer {
    return this.#state.answer;
  }

  set answer(answer: FakeAnswer) {
    this.#state.answer = answer;
  }

  static async start(options: FakeNodeOptions): Promise<FakeBootstrapNode> {
    const nodeKey = await KeyPair.generate();
    const id = nodeIdOf(await nodeKey.rawPublicKey());
    const certificatePem = await selfSignedCertificate(nodeKey, {
      commonName: options.commonName?.(id) ?? id,
      usages: ['server'],
    });
    const server = new Server();
    const state: FakeState = { calls: [], signatures: [], answer: 'certificate' };
    const implementation: NodeBootstrapServer = {
      bootstrap: (call, callback) => {
        const key = call.request.ownerPublicKey;
        state.calls.push(key);
        state.signatures.push(call.request.ownerSignature);
        if (state.answer === 'already-bootstrapped') {
          const error: Partial<ServiceError> = {
            code: status.FAILED_PRECONDITION,
            details: 'this node already belongs to a cluster',
          };
          callback(error, null);
          return;
        }
        answer(options, id, state.answer === 'foreign-certificate' ? undefined : key).then(
          (response) => {
            callback(null, response);
          },
          (error: unknown) => {
            callback({ code: status.INTERNAL, details: String(error) }, null);
          },
        );
      },
    };
    server.addService(NodeBootstrapService, implementation);
    const credentials = ServerCredentials.createSsl(
      null,
      [
        {
          private_key: Buffer.from(await nodeKey.privateKeyPem()),
          cert_chain: Buffer.from(certificatePem),
        },
      ],
      false,
    );
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    const sha256 = createHash('sha256')
      .update(new X509Certificate(certificatePem).raw)
      .digest('hex');
    return new FakeBootstrapNode(id, `127.0.0.1:${String(port)}`, sha256, state, server);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.tryShutdown(() => {
        resolve();
      });
    });
  }
}

/** The node's answer; `ownerKey` undefined certifies some other key (a broken node). */
async function answer(
  options: FakeNodeOptions,
  nodeId: string,
  ownerKey: Buffer | undefined,
): Promise<BootstrapResponse> {
  const publicKey =
    ownerKey === undefined
      ? (await KeyPair.generate()).publicKey
      : await ed25519PublicKeyFromRaw(ownerKey);
  const ownerCertificate = await options.ca.certify(publicKey, {
    commonName: 'owner',
    organizations: [certificateRoles.owner, ...(options.ownerGroups ?? [])],
    usages: ['client'],
  });
  return {
    nodeId,
    caCertificate: options.ca.certificatePem,
    ownerCertificate,
    kubernetesEndpoint: options.kubernetesEndpoint,
  };
}
