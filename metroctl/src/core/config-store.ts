// metroctl's config directory (default ~/.metroctl): the owner key, the owner certificate, the
// pinned cluster CA and config.json. It knows files and modes, not how they are obtained.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '@metropolis/errors';
import { KeyPair, checkCertifiedKey, parseCertificate } from '@metropolis/pki';
import { MetroctlError } from '../errors.js';
import { isErrno } from './is-errno.js';
import { writeFileAtomic } from '@metropolis/process';

/** What config.json records about the cluster this directory owns. */
export interface ClusterConfig {
  /** Addresses of the cluster's nodes (the bootstrap endpoint first). */
  readonly endpoints: readonly string[];
  /** The node the cluster was bootstrapped on. */
  readonly nodeId: string;
  /** `https://ADDRESS:6443`, as the bootstrap node returned it. */
  readonly kubernetesEndpoint: string;
}

/** PEM credentials of the cluster owner. */
export interface OwnerCredentials {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly keyPem: string;
}

/** Absolute paths of the files in a config directory. */
export interface ConfigPaths {
  readonly dir: string;
  /** Ed25519 PKCS#8 PEM, mode 0600. */
  readonly ownerKey: string;
  readonly ownerCertificate: string;
  readonly ca: string;
  readonly config: string;
}

const privateMode = 0o600;
const publicMode = 0o644;
const dirMode = 0o700;

/** Reads and writes one config directory. */
export class ConfigStore {
  readonly paths: ConfigPaths;

  constructor(dir: string) {
    this.paths = {
      dir,
      ownerKey: join(dir, 'owner-key.pem'),
      ownerCertificate: join(dir, 'owner.pem'),
      ca: join(dir, 'ca.pem'),
      config: join(dir, 'config.json'),
    };
  }

  /**
   * The owner key, generated (and the directory created, mode 0700) if there is none yet.
   * An existing key is reused, so a bootstrap that failed half-way can simply be retried.
   */
  async loadOrCreateOwnerKey(): Promise<{ keyPair: KeyPair; created: boolean }> {
    if (await exists(this.paths.ownerKey)) {
      return { keyPair: await this.ownerKey(), created: false };
    }
    await mkdir(this.paths.dir, { recursive: true, mode: dirMode });
    const keyPair = await KeyPair.generate('ed25519');
    try {
      await writeFileAtomic(this.paths.ownerKey, await keyPair.privateKeyPem(), {
        mode: privateMode,
        exclusive: true,
      });
    } catch (error) {
      // Another metroctl created one meanwhile: use that one, never overwrite it.
      if (isErrno(error, 'EEXIST')) return { keyPair: await this.ownerKey(), created: false };
      throw this.#ioError('cannot write the owner key', this.paths.ownerKey, error);
    }
    return { keyPair, created: true };
  }

  /** The existing owner key; refuses one that others can read, as ssh does. */
  async ownerKey(): Promise<KeyPair> {
    return this.#parseOwnerKey(await this.#readPrivate(this.paths.ownerKey, 'owner key'));
  }

  /** Whether this directory already holds an owner certificate (it owns a cluster). */
  hasOwnerCertificate(): Promise<boolean> {
    return exists(this.paths.ownerCertificate);
  }

  /**
   * The owner certificate, its key and the cluster CA, for mTLS to nodes and kubectl. Checked
   * here, so that a damaged file fails with its name rather than as a TLS error later.
   */
  async ownerCredentials(): Promise<OwnerCredentials> {
    const [certificatePem, caPem] = await Promise.all([
      this.#readPublic(this.paths.ownerCertificate, 'owner certificate'),
      this.#readPublic(this.paths.ca, 'cluster CA'),
    ]);
    const keyPem = await this.#readPrivate(this.paths.ownerKey, 'owner key');
    this.#parseCertificate(caPem, this.paths.ca);
    const certificate = this.#parseCertificate(certificatePem, this.paths.ownerCertificate);
    const keyPair = await this.#parseOwnerKey(keyPem);
    try {
      await checkCertifiedKey(certificate, keyPair);
    } catch (cause) {
      throw new MetroctlError(
        'METROCTL_CONFIG',
        `${this.paths.ownerCertificate} does not certify the owner key ${this.paths.ownerKey}`,
        { cause },
      );
    }
    return { caPem, certificatePem, keyPem };
  }

  /** config.json. */
  async clusterConfig(): Promise<ClusterConfig> {
    const text = await this.#readPublic(this.paths.config, 'cluster config');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new MetroctlError('METROCTL_CONFIG', `${this.paths.config} is not JSON`, { cause });
    }
    const config = clusterConfigFrom(parsed);
    if (config === undefined) {
      throw new MetroctlError(
        'METROCTL_CONFIG',
        `${this.paths.config} lacks endpoints, nodeId or kubernetesEndpoint`,
      );
    }
    return config;
  }

  /**
   * Saves what a bootstrap returned. Each file is replaced atomically; the certificate goes
   * first because without it the owner key alone no longer gets into the cluster.
   */
  async saveCluster(cluster: {
    ownerCertificatePem: string;
    caPem: string;
    config: ClusterConfig;
  }): Promise<void> {
    await mkdir(this.paths.dir, { recursive: true, mode: dirMode });
    const files: [string, string, number][] = [
      [this.paths.ownerCertificate, cluster.ownerCertificatePem, publicMode],
      [this.paths.ca, cluster.caPem, publicMode],
      [this.paths.config, `${JSON.stringify(cluster.config, null, 2)}\n`, publicMode],
    ];
    for (const [path, data, mode] of files) {
      try {
        await writeFileAtomic(path, data, { mode });
      } catch (error) {
        throw this.#ioError('cannot write', path, error);
      }
    }
  }

  async #readPrivate(path: string, what: string): Promise<string> {
    const text = await this.#readPublic(path, what);
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new MetroctlError(
        'METROCTL_CONFIG',
        `${path} is accessible by others (mode 0${mode.toString(8)}): run chmod 600 ${path}`,
      );
    }
    return text;
  }

  async #readPublic(path: string, what: string): Promise<string> {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) {
        throw new MetroctlError(
          'METROCTL_CONFIG',
          `no ${what} at ${path}: bootstrap a cluster first (metroctl cluster bootstrap) ` +
            'or point --config at the directory that owns it',
          { cause: error },
        );
      }
      throw this.#ioError(`cannot read the ${what}`, path, error);
    }
  }

  async #parseOwnerKey(pem: string): Promise<KeyPair> {
    try {
      return await KeyPair.fromPrivateKeyPem(pem);
    } catch (cause) {
      throw new MetroctlError(
        'METROCTL_CONFIG',
        `${this.paths.ownerKey} is not an Ed25519 PKCS#8 private key: ${errorMessage(cause)}`,
        { cause },
      );
    }
  }

  #parseCertificate(pem: string, path: string): ReturnType<typeof parseCertificate> {
    try {
      return parseCertificate(pem);
    } catch (cause) {
      throw new MetroctlError('METROCTL_CONFIG', `${path} is not a PEM X.509 certificate`, {
        cause,
      });
    }
  }

  #ioError(what: string, path: string, cause: unknown): MetroctlError {
    return new MetroctlError('METROCTL_FAILED', `${what} ${path}: ${errorMessage(cause)}`, {
      cause,
    });
  }
}

function clusterConfigFrom(value: unknown): ClusterConfig | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const endpoints = stringArray(Reflect.get(value, 'endpoints'));
  const nodeId: unknown = Reflect.get(value, 'nodeId');
  const kubernetesEndpoint: unknown = Reflect.get(value, 'kubernetesEndpoint');
  if (
    endpoints === undefined ||
    typeof nodeId !== 'string' ||
    typeof kubernetesEndpoint !== 'string'
  ) {
    return undefined;
  }
  return { endpoints, nodeId, kubernetesEndpoint };
}

function stringArray(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const strings = value.filter((item): item is string => typeof item === 'string');
  return strings.length === value.length ? strings : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
