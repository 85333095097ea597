// Builds a signed bundle of the process flavour: a JSON loader plus a tar system image holding
// the bundled node agent and release.json (contract in docs/bundle-format.md).
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultProcessCmdline,
  encodeProcessLoader,
  operatorWatchWorkerFile,
  slotPlaceholder,
} from '@metropolis/api';
import {
  bundleVersionPattern,
  encodeReleaseInfo,
  isEpoch,
  writeBundle,
  type BundleArchitecture,
  type ReleaseHealthCheck,
  type WrittenBundle,
} from '@metropolis/bundle';
import { bundleAgent } from './agent-bundle.js';
import { currentSecurityEpoch } from './security-epoch.js';
import { OsImageError } from './errors.js';
import { writeSystemImage } from './system-image.js';
import { workspacePaths } from './workspace-paths.js';

export interface BuildProcessBundleOptions {
  /** Release version, e.g. `v0.2.0`: goes into the manifest, loader.efi and release.json. */
  readonly version: string;
  /** The release's security epoch, in the manifest and release.json. @default {@link currentSecurityEpoch} */
  readonly securityEpoch?: number;
  /** @default 'x86_64' */
  readonly architecture?: BundleArchitecture;
  /** The release key: Ed25519 PKCS#8 PEM (for tests, the dev key: `workspacePaths().devReleaseKey`). */
  readonly signingKeyPem: string;
  /** Where the bundle is written (through a temp file and a rename). */
  readonly out: string;
  /** The agent's entry point. @default node-agent/src/main.ts of this checkout */
  readonly agentEntry?: string;
  /**
   * The operator's entry point, bundled as operator.mjs; `null` leaves it out (images for tests
   * of the agent alone). @default operator/src/main.ts of this checkout
   */
  readonly operatorEntry?: string | null;
  /** Folder of CRD YAML files shipped as crds/*.yaml. @default crds/ of this checkout */
  readonly crds?: string;
  /** Carried into release.json; `fail` makes an agent that never becomes healthy. @default 'ok' */
  readonly healthCheck?: ReleaseHealthCheck;
  /** Carried into release.json: flags the release adds to kube-apiserver. @default [] */
  readonly kubeApiserverArgs?: readonly string[];
  /** Kernel command line of loader.efi; must contain METROPOLIS-SYSTEM-X. @default {@link defaultProcessCmdline} */
  readonly cmdline?: string;
}

/** What was built: the manifest, the bundle's size and sha256 (for an OSUpdate), its path. */
export interface BuiltBundle extends WrittenBundle {
  readonly out: string;
}

/**
 * Builds and signs a process-flavour bundle. Reproducible: the same sources, options and key
 * give a byte-identical bundle.
 * @throws OsImageError for invalid options and failed build steps; BundleError (from
 * `@metropolis/bundle`) when the key is unusable or writing the bundle fails.
 */
export async function buildProcessBundle(options: BuildProcessBundleOptions): Promise<BuiltBundle> {
  const paths = workspacePaths();
  const architecture = options.architecture ?? 'x86_64';
  const cmdline = options.cmdline ?? defaultProcessCmdline;
  const securityEpoch = options.securityEpoch ?? currentSecurityEpoch;
  checkOptions(options.version, cmdline, securityEpoch);
  const agent = await bundleAgent(
    options.agentEntry ?? paths.agentEntry,
    paths.repository,
    'node-agent',
  );
  const operatorEntry =
    options.operatorEntry === undefined ? paths.operatorEntry : options.operatorEntry;
  const operator =
    operatorEntry === null
      ? []
      : [
          ...(await bundleAgent(operatorEntry, paths.repository, 'operator')),
          // The thread the operator runs its watch framework in (see operator/src/framework).
          // Minified: it is the framework and its client-node 0.20, and V8 keeps a module's
          // source in the heap, so its comments and indentation cost the operator 3.5 MiB.
          ...(await bundleAgent(
            paths.operatorWatchEntry,
            paths.repository,
            operatorWatchWorkerFile.replace(/\.mjs$/, ''),
            { minify: true },
          )),
        ];
  const crdsDir = options.crds ?? paths.crds;
  const crds = await Promise.all(
    (await readdir(crdsDir))
      .filter((name) => name.endsWith('.yaml'))
      .sort()
      .map(async (name) => ({
        name: `crds/${name}`,
        contents: await readFile(join(crdsDir, name)),
      })),
  );
  const work = await mkdtemp(join(tmpdir(), 'metropolis-bundle-'));
  try {
    const loaderPath = join(work, 'loader.efi');
    const systemPath = join(work, 'system.img');
    await writeFile(loaderPath, encodeProcessLoader({ version: options.version, cmdline }));
    await writeSystemImage(systemPath, [
      {
        name: 'release.json',
        contents: encodeReleaseInfo({
          version: options.version,
          securityEpoch,
          flavour: 'process',
          architecture,
          healthCheck: options.healthCheck ?? 'ok',
          kubeApiserverArgs: options.kubeApiserverArgs ?? [],
        }),
      },
      ...agent,
      ...operator,
      ...crds,
    ]);
    const written = await writeBundle(options.out, {
      version: options.version,
      securityEpoch,
      flavour: 'process',
      architecture,
      signingKeyPem: options.signingKeyPem,
      files: [
        { name: 'loader.efi', role: 'loader', path: loaderPath },
        { name: 'system.img', role: 'system', path: systemPath },
      ],
    });
    return { ...written, out: options.out };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function checkOptions(version: string, cmdline: string, securityEpoch: number): void {
  if (!isEpoch(securityEpoch)) {
    throw new OsImageError(
      'OS_IMAGE_INVALID_OPTION',
      `security epoch ${String(securityEpoch)} must be a non-negative integer`,
    );
  }
  if (!bundleVersionPattern.test(version)) {
    throw new OsImageError(
      'OS_IMAGE_INVALID_OPTION',
      `version ${JSON.stringify(version)} must match ${String(bundleVersionPattern)}`,
    );
  }
  if (!cmdline.includes(slotPlaceholder) || /[\n\r\0]/.test(cmdline)) {
    throw new OsImageError(
      'OS_IMAGE_INVALID_OPTION',
      `cmdline must be one line containing ${slotPlaceholder}, which the firmware replaces with the slot`,
    );
  }
}
