// A server's certificate that can change while it serves: a renewed certificate is used for new
// connections at once, without a restart (open streams keep theirs). grpc-js reads it through
// its certificate-provider interface.
import type { experimental } from '@grpc/grpc-js';

type Provider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface ServingIdentityOptions {
  /** The CA client certificates chain to. */
  readonly clientCaPem: string;
  /** Whether a client must present a certificate (false: it may, as registering nodes do not). */
  readonly requireClientCertificate: boolean;
  readonly certificatePem: string;
  readonly keyPem: string;
}

export class ServingIdentity implements Provider {
  readonly clientCaPem: string;
  readonly requireClientCertificate: boolean;
  #certificatePem: string;
  #keyPem: string;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  constructor(options: ServingIdentityOptions) {
    this.clientCaPem = options.clientCaPem;
    this.requireClientCertificate = options.requireClientCertificate;
    this.#certificatePem = options.certificatePem;
    this.#keyPem = options.keyPem;
  }

  get certificatePem(): string {
    return this.#certificatePem;
  }

  /** Serves `certificatePem` (with `keyPem`, or the key it had) from the next connection on. */
  update(certificatePem: string, keyPem: string = this.#keyPem): void {
    this.#certificatePem = certificatePem;
    this.#keyPem = keyPem;
    for (const listener of this.#identityListeners) listener(this.#identity());
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    // After the call: grpc-js registers its own watcher only once this returned.
    queueMicrotask(() => {
      listener({ caCertificate: Buffer.from(this.clientCaPem) });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => {
      listener(this.#identity());
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }

  #identity(): experimental.IdentityCertificateUpdate {
    return {
      certificate: Buffer.from(this.#certificatePem),
      privateKey: Buffer.from(this.#keyPem),
    };
  }
}
