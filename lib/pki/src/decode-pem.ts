// PEM armour: the DER body of a labelled block, for callers that hold PEM of any kind.
import { PemConverter } from '@peculiar/x509';
import { PkiError } from './errors.js';

/** The DER body of the first PEM block with the given label. */
export function decodePem(pem: string, label: string): ArrayBuffer {
  let blocks: ArrayBuffer[];
  try {
    blocks = PemConverter.decodeWithHeaders(pem)
      .filter((block) => block.type === label)
      .map((block) => block.rawData);
  } catch (cause) {
    throw new PkiError('PKI_INVALID_PEM', `not PEM: expected a ${label} block`, { cause });
  }
  const [first] = blocks;
  if (first === undefined) {
    throw new PkiError('PKI_INVALID_PEM', `no ${label} block in PEM input`);
  }
  return first;
}
