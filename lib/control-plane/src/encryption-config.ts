// kube-apiserver's encryption at rest: the EncryptionConfiguration that encrypts Secrets in etcd
// with secretbox (XSalsa20-Poly1305, authenticated, unlike aescbc), and still reads what was
// written in plain text before (identity last).
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';

/**
 * The configuration for `keys` (32 bytes each): the first encrypts, all decrypt. Each key is
 * named after its hash, so a stored value names the key it needs however the list is reordered.
 */
export function encryptionConfig(keys: readonly Uint8Array[]): string {
  if (keys.length === 0 || keys.some((key) => key.length !== 32)) {
    throw new RangeError('secretbox needs at least one key, each of 32 bytes');
  }
  return stringify({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [
      {
        resources: ['secrets'],
        providers: [
          {
            secretbox: {
              keys: keys.map((key) => ({
                name: `key-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`,
                secret: Buffer.from(key).toString('base64'),
              })),
            },
          },
          { identity: {} },
        ],
      },
    ],
  });
}
