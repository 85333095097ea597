// The node's identity: an Ed25519 key created on first boot and kept on the data partition.
// Its node ID is derived from the public key (nodeIdOf in @metropolis/api), as in Monogon.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { nodeIdOf } from '@metropolis/api';
// The key pair alone: a node that holds only its key never loads the X.509 code of the package.
import { KeyPair } from '@metropolis/pki/key-pair';

export class NodeIdentity {
  readonly nodeId: string;
  readonly keyPair: KeyPair;

  private constructor(nodeId: string, keyPair: KeyPair) {
    this.nodeId = nodeId;
    this.keyPair = keyPair;
  }

  /** Loads the key at `path`, or creates it (atomically) when there is none yet. */
  static async loadOrCreate(path: string): Promise<NodeIdentity> {
    const pem = await readFile(path, 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    });
    const keyPair = pem === undefined ? await create(path) : await KeyPair.fromPrivateKeyPem(pem);
    return new NodeIdentity(nodeIdOf(await keyPair.rawPublicKey()), keyPair);
  }
}

async function create(path: string): Promise<KeyPair> {
  const keyPair = await KeyPair.generate('ed25519');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp`;
  await writeFile(temp, await keyPair.privateKeyPem(), { mode: 0o600, flush: true });
  await rename(temp, path);
  return keyPair;
}
