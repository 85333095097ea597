// EFI variables held in memory, for simulated machines (hollow nodes): the same contract as
// efivarfs, without a file per variable.
import {
  bootVariableAttributes,
  checkAttributes,
  checkVendor,
  efiGlobalVariable,
  variableKey,
  type EfiVariable,
  type EfiVariableStore,
  type WriteOptions,
} from './efi-var-store.js';
import { EfiError } from './errors.js';

/** A variable store in memory; reads and writes copy the bytes, as a file system would. */
export class MemoryVarStore implements EfiVariableStore {
  readonly #variables = new Map<string, EfiVariable>();

  read(name: string, vendor: string = efiGlobalVariable): Promise<EfiVariable> {
    const variable = this.#variables.get(variableKey(name, vendor));
    if (variable === undefined) {
      return Promise.reject(
        new EfiError('EFI_VAR_NOT_FOUND', `EFI variable ${name}-${vendor} does not exist`),
      );
    }
    return Promise.resolve({ attributes: variable.attributes, data: variable.data.slice() });
  }

  async tryRead(
    name: string,
    vendor: string = efiGlobalVariable,
  ): Promise<EfiVariable | undefined> {
    return this.#variables.has(variableKey(name, vendor)) ? this.read(name, vendor) : undefined;
  }

  write(name: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const key = variableKey(name, options.vendor ?? efiGlobalVariable);
    const attributes = checkAttributes(options.attributes ?? bootVariableAttributes);
    this.#variables.set(key, { attributes, data: data.slice() });
    return Promise.resolve();
  }

  delete(name: string, vendor: string = efiGlobalVariable): Promise<void> {
    this.#variables.delete(variableKey(name, vendor));
    return Promise.resolve();
  }

  list(vendor: string = efiGlobalVariable): Promise<string[]> {
    const suffix = `-${checkVendor(vendor)}`;
    return Promise.resolve(
      [...this.#variables.keys()]
        .filter((key) => key.endsWith(suffix))
        .map((key) => key.slice(0, -suffix.length))
        .sort(),
    );
  }
}
