// The bundle manifest: what a bundle claims to hold. A node acts on it (writes slots, sets boot
// variables), so it is checked strictly and unknown fields are refused (docs/bundle-format.md).
import { BundleError } from './errors.js';

/** What a payload is for: the EFI loader goes to the ESP, the system image to a slot. */
export type BundleRole = 'loader' | 'system';
/** `process` bundles boot process nodes (emulated firmware); `vm` bundles boot real UEFI. */
export type BundleFlavour = 'process' | 'vm';
export type BundleArchitecture = 'x86_64' | 'aarch64';

/** One payload, in the order it follows the signature. */
export interface BundleFile {
  /** A plain file name (no directories), unique within the bundle. */
  readonly name: string;
  readonly role: BundleRole;
  /** Exact length of the payload in bytes. */
  readonly size: number;
  /** sha256 of the payload, 64 lowercase hex digits. */
  readonly sha256: string;
}

export interface BundleManifest {
  readonly formatVersion: 1;
  /** The release version, e.g. `v0.2.0`; matches {@link bundleVersionPattern}. */
  readonly version: string;
  /**
   * The release's security epoch: a node refuses a bundle whose epoch is below the one it has
   * committed, unless told to downgrade. Absent in the JSON means 0.
   */
  readonly securityEpoch: number;
  readonly flavour: BundleFlavour;
  readonly architecture: BundleArchitecture;
  /** Id of the release key that signed the bundle: see `keyIdOf`. */
  readonly keyId: string;
  /** Exactly one `loader` and one `system` payload, in stream order. */
  readonly files: readonly BundleFile[];
}

/**
 * What a release version looks like: `v0.2.0`, `v1.0.0-rc.1+build.5`. Printable and free of
 * path separators so it is safe in logs, file names and Kubernetes status; at most 128 characters.
 */
export const bundleVersionPattern = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

const roles: readonly BundleRole[] = ['loader', 'system'];
const flavours: readonly BundleFlavour[] = ['process', 'vm'];
const architectures: readonly BundleArchitecture[] = ['x86_64', 'aarch64'];
const manifestFields = [
  'formatVersion',
  'version',
  'securityEpoch',
  'flavour',
  'architecture',
  'keyId',
  'files',
];
const fileFields = ['name', 'role', 'size', 'sha256'];
const fileNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const maxFileNameLength = 255;
const keyIdPattern = /^[0-9a-f]{16}$/;
const sha256Pattern = /^[0-9a-f]{64}$/;

/**
 * Validates a decoded manifest (the result of `JSON.parse`) and returns a frozen copy.
 * @throws BundleError BUNDLE_MALFORMED, BUNDLE_PATH_ESCAPES or BUNDLE_UNSUPPORTED_FORMAT.
 */
export function parseBundleManifest(value: unknown): BundleManifest {
  const manifest = record(value, 'the manifest');
  if (manifest.formatVersion !== 1) {
    if (typeof manifest.formatVersion === 'number') {
      throw new BundleError(
        'BUNDLE_UNSUPPORTED_FORMAT',
        `bundle manifest has formatVersion ${String(manifest.formatVersion)}; this reader understands only 1`,
      );
    }
    throw malformed('field "formatVersion" must be the number 1');
  }
  refuseUnknownFields(manifest, manifestFields, 'the manifest');
  const version = matching(manifest.version, bundleVersionPattern, '"version"');
  const securityEpoch = manifest.securityEpoch === undefined ? 0 : manifest.securityEpoch;
  if (!isEpoch(securityEpoch)) {
    throw malformed('field "securityEpoch" must be a non-negative safe integer');
  }
  const flavour = oneOf(manifest.flavour, flavours, '"flavour"');
  const architecture = oneOf(manifest.architecture, architectures, '"architecture"');
  const keyId = matching(manifest.keyId, keyIdPattern, '"keyId" (16 lowercase hex digits)');
  if (!Array.isArray(manifest.files)) throw malformed('field "files" must be an array');
  const files = manifest.files.map((file: unknown, index) => parseFile(file, index));
  checkFileSet(files);
  return Object.freeze({
    formatVersion: 1,
    version,
    // `+ 0` turns a JSON -0 into 0.
    securityEpoch: securityEpoch + 0,
    flavour,
    architecture,
    keyId,
    files: Object.freeze(files),
  });
}

/**
 * The manifest as the writer emits it: compact JSON, fields in declaration order, UTF-8. An epoch
 * of 0 is left out, so such a bundle is readable by agents that predate the field.
 */
export function encodeBundleManifest(manifest: BundleManifest): Uint8Array {
  const canonical = {
    formatVersion: manifest.formatVersion,
    version: manifest.version,
    ...(manifest.securityEpoch === 0 ? {} : { securityEpoch: manifest.securityEpoch }),
    flavour: manifest.flavour,
    architecture: manifest.architecture,
    keyId: manifest.keyId,
    files: manifest.files.map(({ name, role, size, sha256 }) => ({ name, role, size, sha256 })),
  };
  return new TextEncoder().encode(JSON.stringify(canonical));
}

/**
 * Decodes manifest bytes as strict UTF-8 JSON, without validating its fields.
 * @throws BundleError BUNDLE_MALFORMED.
 */
export function decodeBundleManifestJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    // ignoreBOM keeps a BOM in the text, so JSON.parse refuses it: the format has none.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new BundleError('BUNDLE_MALFORMED', 'bundle manifest is not valid UTF-8', { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new BundleError('BUNDLE_MALFORMED', 'bundle manifest is not valid JSON', { cause });
  }
}

function parseFile(value: unknown, index: number): BundleFile {
  const where = `files[${String(index)}]`;
  const file = record(value, where);
  refuseUnknownFields(file, fileFields, where);
  const name = fileName(file.name, where);
  const role = oneOf(file.role, roles, `${where}.role`);
  const size = file.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw malformed(`${where}.size must be a non-negative safe integer`);
  }
  const sha256 = matching(file.sha256, sha256Pattern, `${where}.sha256 (64 lowercase hex digits)`);
  // `+ 0` turns a JSON -0 into 0.
  return Object.freeze({ name, role, size: size + 0, sha256 });
}

/** A security epoch: a non-negative safe integer. */
export function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function fileName(value: unknown, where: string): string {
  if (typeof value !== 'string') throw malformed(`${where}.name must be a string`);
  if (value === '.' || value === '..' || /[/\\\0]/.test(value)) {
    throw new BundleError(
      'BUNDLE_PATH_ESCAPES',
      `bundle manifest ${where}.name ${JSON.stringify(value)} is a path, not a plain file name`,
    );
  }
  if (!fileNamePattern.test(value) || value.length > maxFileNameLength) {
    throw malformed(
      `${where}.name ${JSON.stringify(value)} must match ${String(fileNamePattern)} (at most ${String(maxFileNameLength)} characters)`,
    );
  }
  return value;
}

function checkFileSet(files: readonly BundleFile[]): void {
  for (const role of roles) {
    const count = files.filter((file) => file.role === role).length;
    if (count !== 1) {
      throw malformed(`must list exactly one "${role}" file, found ${String(count)}`);
    }
  }
  // Case-insensitive: loaders land on a FAT ESP, where LOADER.EFI and loader.efi are one file.
  const names = new Set(files.map((file) => file.name.toLowerCase()));
  if (names.size !== files.length) throw malformed('file names must be unique');
  const total = files.reduce((sum, file) => sum + file.size, 0);
  if (!Number.isSafeInteger(total)) throw malformed('total payload size is not a safe integer');
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`${what} must be a JSON object`);
  }
  // A plain object from JSON.parse: its own enumerable keys are exactly the JSON keys.
  return value as Record<string, unknown>;
}

function refuseUnknownFields(
  value: Record<string, unknown>,
  known: readonly string[],
  where: string,
): void {
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw malformed(
      `${where} has unknown field(s) ${unknown.map((key) => JSON.stringify(key)).join(', ')}`,
    );
  }
}

function matching(value: unknown, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw malformed(`field ${what} must be a string matching ${String(pattern)}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) {
    throw malformed(`field ${what} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }
  return found;
}

function malformed(problem: string): BundleError {
  return new BundleError('BUNDLE_MALFORMED', `bundle manifest: ${problem}`);
}
