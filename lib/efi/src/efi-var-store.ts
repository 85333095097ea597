// EFI variables through efivarfs (Linux Documentation/filesystems/efivarfs.rst) or a plain
// directory with the same file format, which is what tests and the firmware emulator use.
import { execFile } from 'node:child_process';
import { open, readdir, readFile, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EfiError } from './errors.js';
import { isGuid } from './guid-bytes.js';

/** EFI_GLOBAL_VARIABLE: Boot####, BootOrder, BootNext, BootCurrent, ... */
export const efiGlobalVariable = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

/** systemd's loader interface vendor (LoaderImageIdentifier, LoaderDevicePartUUID, ...). */
export const systemdLoaderVendor = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

/** NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS, as boot manager variables are written. */
export const bootVariableAttributes = 0x7;

const execFileAsync = promisify(execFile);

// statfs f_type of efivarfs (include/uapi/linux/magic.h EFIVARFS_MAGIC).
const efivarfsMagic = 0xde5e81e4;

export interface EfiVariable {
  /** The attribute bitmap (UEFI spec 8.2, e.g. 0x7 = NV|BS|RT). */
  readonly attributes: number;
  readonly data: Uint8Array;
}

export interface WriteOptions {
  /** @default efiGlobalVariable */
  readonly vendor?: string;
  /** @default bootVariableAttributes (0x7) */
  readonly attributes?: number;
}

/**
 * A store of EFI variables: efivarfs ({@link EfiVarStore}) or memory ({@link MemoryVarStore}, for
 * simulated machines). Names are case-sensitive; vendors are GUIDs in any case.
 */
export interface EfiVariableStore {
  /** Reads a variable. Throws EFI_VAR_NOT_FOUND when absent. */
  read(name: string, vendor?: string): Promise<EfiVariable>;
  /** Like read(), but undefined when the variable does not exist. */
  tryRead(name: string, vendor?: string): Promise<EfiVariable | undefined>;
  /** Creates or replaces a variable. */
  write(name: string, data: Uint8Array, options?: WriteOptions): Promise<void>;
  /** Deletes a variable; no error if it does not exist. */
  delete(name: string, vendor?: string): Promise<void>;
  /** Names (without the `-guid` suffix) of the variables of `vendor`, sorted. */
  list(vendor?: string): Promise<string[]>;
}

function errorCode(error: unknown): unknown {
  return error instanceof Error && 'code' in error ? error.code : undefined;
}

/**
 * The variables in one efivarfs directory. Each file is named `Name-vendorguid` and holds
 * the 4-byte little-endian attributes followed by the data.
 */
export class EfiVarStore implements EfiVariableStore {
  readonly root: string;
  #isEfivarfs: Promise<boolean> | undefined;

  /** @param root e.g. `/sys/firmware/efi/efivars`, or a plain directory for tests. */
  constructor(root: string) {
    this.root = root;
  }

  /** Reads a variable. Throws EFI_VAR_NOT_FOUND when absent, EFI_MALFORMED under 4 bytes. */
  async read(name: string, vendor: string = efiGlobalVariable): Promise<EfiVariable> {
    const path = this.#path(name, vendor);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') {
        throw new EfiError('EFI_VAR_NOT_FOUND', `EFI variable ${name}-${vendor} does not exist`, {
          cause: error,
        });
      }
      throw new EfiError('EFI_IO', `cannot read EFI variable ${name}-${vendor}`, { cause: error });
    }
    if (bytes.length < 4) {
      throw new EfiError(
        'EFI_MALFORMED',
        `EFI variable ${name}-${vendor} is ${String(bytes.length)} bytes, shorter than its 4-byte attributes`,
      );
    }
    return { attributes: bytes.readUInt32LE(0), data: new Uint8Array(bytes.subarray(4)) };
  }

  /** Like read(), but undefined when the variable does not exist. */
  async tryRead(
    name: string,
    vendor: string = efiGlobalVariable,
  ): Promise<EfiVariable | undefined> {
    try {
      return await this.read(name, vendor);
    } catch (error) {
      if (error instanceof EfiError && error.code === 'EFI_VAR_NOT_FOUND') return undefined;
      throw error;
    }
  }

  /**
   * Creates or replaces a variable with one write() of attributes + data: efivarfs rejects
   * the attributes and the data in separate writes. Clears the immutable flag that efivarfs
   * sets on most existing variables first.
   */
  async write(name: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const vendor = options.vendor ?? efiGlobalVariable;
    const attributes = checkAttributes(options.attributes ?? bootVariableAttributes);
    const path = this.#path(name, vendor);
    const bytes = Buffer.alloc(4 + data.length);
    bytes.writeUInt32LE(attributes, 0);
    bytes.set(data, 4);
    await this.#makeMutable(path);
    try {
      const file = await open(path, 'w', 0o644);
      try {
        const { bytesWritten } = await file.write(bytes, 0, bytes.length);
        if (bytesWritten !== bytes.length) {
          throw new Error(`wrote ${String(bytesWritten)} of ${String(bytes.length)} bytes`);
        }
      } finally {
        await file.close();
      }
    } catch (error) {
      throw new EfiError('EFI_IO', `cannot write EFI variable ${name}-${vendor}`, {
        cause: error,
      });
    }
  }

  /** Deletes a variable; no error if it does not exist. */
  async delete(name: string, vendor: string = efiGlobalVariable): Promise<void> {
    const path = this.#path(name, vendor);
    await this.#makeMutable(path);
    try {
      await unlink(path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw new EfiError('EFI_IO', `cannot delete EFI variable ${name}-${vendor}`, {
        cause: error,
      });
    }
  }

  /** Names (without the `-guid` suffix) of the variables of `vendor`, sorted. */
  async list(vendor: string = efiGlobalVariable): Promise<string[]> {
    const suffix = `-${checkVendor(vendor)}`;
    let files: string[];
    try {
      files = await readdir(this.root);
    } catch (error) {
      throw new EfiError('EFI_IO', `cannot list EFI variables in ${this.root}`, { cause: error });
    }
    return files
      .filter((file) => file.length > suffix.length && file.endsWith(suffix))
      .map((file) => file.slice(0, -suffix.length))
      .sort();
  }

  #path(name: string, vendor: string): string {
    return join(this.root, variableKey(name, vendor));
  }

  // Only real efivarfs has the flag, and chattr needs an existing file.
  async #makeMutable(path: string): Promise<void> {
    this.#isEfivarfs ??= statfs(this.root).then(
      (stats) => stats.type === efivarfsMagic,
      () => false,
    );
    if (!(await this.#isEfivarfs)) return;
    try {
      await stat(path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw new EfiError('EFI_IO', `cannot stat ${path}`, { cause: error });
    }
    try {
      await execFileAsync('chattr', ['-i', path]);
    } catch (error) {
      throw new EfiError('EFI_IO', `cannot clear the immutable flag of ${path}`, { cause: error });
    }
  }
}

/** `Name-vendorguid`, as efivarfs names the file; EFI_INVALID_ARGUMENT for a bad name or vendor. */
export function variableKey(name: string, vendor: string): string {
  if (name.length === 0 || name.includes('/') || name.includes('\0')) {
    throw new EfiError(
      'EFI_INVALID_ARGUMENT',
      `EFI variable name ${JSON.stringify(name)} is empty or has / or NUL`,
    );
  }
  return `${name}-${checkVendor(vendor)}`;
}

/** The attribute bitmap, if it is a 32-bit unsigned integer. */
export function checkAttributes(attributes: number): number {
  if (!Number.isInteger(attributes) || attributes < 0 || attributes > 0xffff_ffff) {
    throw new EfiError(
      'EFI_INVALID_ARGUMENT',
      `attributes must be a 32-bit unsigned integer, got ${String(attributes)}`,
    );
  }
  return attributes;
}

/** The vendor GUID, lowercase; EFI_INVALID_ARGUMENT if it is not one. */
export function checkVendor(vendor: string): string {
  if (!isGuid(vendor)) {
    throw new EfiError('EFI_INVALID_ARGUMENT', `vendor ${JSON.stringify(vendor)} is not a GUID`);
  }
  return vendor.toLowerCase();
}
