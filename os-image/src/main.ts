// Composition root of the metropolis-os-image CLI: parses argv, reads key files, prints results
// to stdout and errors to stderr, and sets the exit code (0 ok, 1 failed, 2 usage).
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  BundleError,
  bundleVersionPattern,
  developmentReleaseKeyId,
  readBundle,
  releaseKeyFromPem,
  signingKeyFromPem,
  type BundleArchitecture,
  type BundleManifest,
  type ReleaseHealthCheck,
} from '@metropolis/bundle';
import { errorMessage } from '@metropolis/errors';
import { buildProcessBundle } from './build-process-bundle.js';
import { OsImageError } from './errors.js';
import { currentSecurityEpoch } from './security-epoch.js';
import { workspacePaths } from './workspace-paths.js';

const exitFailed = 1;
const exitUsage = 2;

interface BundleCommand {
  readonly version: string;
  readonly securityEpoch: number;
  readonly flavour: 'process' | 'vm';
  readonly architecture: BundleArchitecture;
  readonly key: string;
  readonly out: string;
  readonly agentEntry: string | undefined;
  readonly operatorEntry: string | null | undefined;
  readonly healthCheck: ReleaseHealthCheck;
  readonly kubeApiserverArgs: readonly string[];
  readonly json: boolean;
}

interface InspectCommand {
  readonly trust: readonly string[];
  readonly sha256: string | undefined;
  readonly json: boolean;
}

async function runBundle(options: BundleCommand): Promise<void> {
  if (options.flavour === 'vm') {
    throw new OsImageError('OS_IMAGE_INVALID_OPTION', 'the vm flavour is not built yet');
  }
  const signingKeyPem = await readKeyFile(options.key, '--key');
  if (signingKeyFromPem(signingKeyPem).keyId === developmentReleaseKeyId) {
    process.stderr.write(
      `metropolis-os-image: warning: signing with the development release key (${developmentReleaseKeyId}), whose private half is public; only nodes whose parameters say "development": true accept it\n`,
    );
  }
  const built = await buildProcessBundle({
    version: options.version,
    securityEpoch: options.securityEpoch,
    architecture: options.architecture,
    signingKeyPem,
    out: options.out,
    healthCheck: options.healthCheck,
    kubeApiserverArgs: options.kubeApiserverArgs,
    ...(options.agentEntry === undefined ? {} : { agentEntry: options.agentEntry }),
    ...(options.operatorEntry === undefined ? {} : { operatorEntry: options.operatorEntry }),
  });
  if (options.json) {
    print(
      JSON.stringify({
        out: built.out,
        sha256: built.sha256,
        size: built.size,
        manifest: built.manifest,
      }),
    );
    return;
  }
  print(`wrote ${built.out}`);
  printManifest(built.manifest);
  print(`size          ${String(built.size)} bytes`);
  print(`sha256        ${built.sha256}`);
}

async function runInspect(path: string, options: InspectCommand): Promise<void> {
  const trustedKeys = await Promise.all(
    options.trust.map(async (file) => releaseKeyFromPem(await readKeyFile(file, '--trust'))),
  );
  const discard = { write: () => Promise.resolve(), close: () => Promise.resolve() };
  const manifest = await readBundle(createReadStream(path), {
    trustedKeys,
    openPayload: () => Promise.resolve(discard),
    ...(options.sha256 === undefined ? {} : { expectedSha256: options.sha256 }),
  });
  if (options.json) {
    print(JSON.stringify(manifest));
    return;
  }
  print(`${path}: signature, payload hashes and sizes verify`);
  printManifest(manifest);
}

function printManifest(manifest: BundleManifest): void {
  print(`version       ${manifest.version} (${manifest.flavour}, ${manifest.architecture})`);
  print(`epoch         ${String(manifest.securityEpoch)}`);
  print(`release key   ${manifest.keyId}`);
  for (const file of manifest.files) {
    print(`${file.role.padEnd(14)}${file.name} ${String(file.size)} bytes sha256 ${file.sha256}`);
  }
}

async function readKeyFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new OsImageError(
      'OS_IMAGE_INVALID_OPTION',
      `cannot read ${flag} ${path}: ${errorMessage(cause)}`,
      {
        cause,
      },
    );
  }
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function program(): Command {
  const paths = workspacePaths();
  const root = new Command('metropolis-os-image')
    .description('Builds and inspects signed Metropolis update bundles.')
    .exitOverride()
    .showHelpAfterError();
  root
    .command('bundle')
    .description('build a signed update bundle')
    .addOption(
      new Option('--version <version>', 'release version, e.g. v0.2.0')
        .argParser(matching(bundleVersionPattern, `must match ${String(bundleVersionPattern)}`))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--security-epoch <n>',
        'security epoch: nodes that committed a higher one refuse this bundle',
      )
        .argParser(matching(/^(0|[1-9][0-9]{0,14})$/, 'must be a non-negative integer'))
        .default(String(currentSecurityEpoch)),
    )
    .addOption(
      new Option('--flavour <flavour>', 'node runtime')
        .choices(['process', 'vm'])
        .default('process'),
    )
    .addOption(
      new Option('--architecture <architecture>').choices(['x86_64', 'aarch64']).default('x86_64'),
    )
    .requiredOption(
      '--key <file>',
      `release key, Ed25519 PKCS#8 PEM (dev: ${paths.devReleaseKey.privateKeyPem})`,
    )
    .requiredOption('--out <file>', 'where to write the bundle')
    .option('--agent-entry <file>', 'node agent entry point', paths.agentEntry)
    .option(
      '--operator-entry <file>',
      'operator entry point, bundled as operator.mjs ("none": an image without the operator)',
      paths.operatorEntry,
    )
    .addOption(
      new Option('--health-check <mode>', 'fail: an agent that never becomes healthy (tests)')
        .choices(['ok', 'fail'])
        .default('ok'),
    )
    .option(
      '--kube-apiserver-arg <flag>',
      'a flag the release adds to kube-apiserver, e.g. --feature-gates=…; repeatable',
      (flag: string, flags: string[]) => [...flags, flag],
      [],
    )
    .option('--json', 'print the result as JSON', false)
    .action(async (raw: unknown) => {
      await runBundle(bundleCommand(raw));
    });
  root
    .command('inspect')
    .description('verify a bundle and print its manifest')
    .argument('<bundle>', 'bundle file')
    .requiredOption('--trust <file...>', 'trusted release public key(s), SPKI PEM')
    .addOption(
      new Option('--sha256 <hex>', 'expected sha256 of the whole bundle').argParser(
        matching(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'),
      ),
    )
    .option('--json', 'print the manifest as JSON', false)
    .action(async (path: string, raw: unknown) => {
      await runInspect(path, inspectCommand(raw));
    });
  return root;
}

/**
 * An option parser that accepts values matching `pattern`: commander then reports a mismatch as
 * a usage error naming the flag, as it does for choices.
 */
function matching(pattern: RegExp, rule: string): (value: string) => string {
  return (value) => {
    if (!pattern.test(value)) throw new InvalidArgumentError(`It ${rule}.`);
    return value;
  };
}

/** commander hands options over untyped; its choices() already checked the values. */
function bundleCommand(raw: unknown): BundleCommand {
  const options = raw as Record<string, unknown>;
  return {
    version: String(options.version),
    securityEpoch: Number(options.securityEpoch),
    flavour: options.flavour === 'vm' ? 'vm' : 'process',
    architecture: options.architecture === 'aarch64' ? 'aarch64' : 'x86_64',
    key: String(options.key),
    out: String(options.out),
    agentEntry: typeof options.agentEntry === 'string' ? options.agentEntry : undefined,
    operatorEntry:
      options.operatorEntry === 'none'
        ? null
        : typeof options.operatorEntry === 'string'
          ? options.operatorEntry
          : undefined,
    healthCheck: options.healthCheck === 'fail' ? 'fail' : 'ok',
    kubeApiserverArgs: Array.isArray(options.kubeApiserverArgs)
      ? options.kubeApiserverArgs.map(String)
      : [],
    json: options.json === true,
  };
}

function inspectCommand(raw: unknown): InspectCommand {
  const options = raw as Record<string, unknown>;
  return {
    trust: Array.isArray(options.trust) ? options.trust.map(String) : [],
    sha256: typeof options.sha256 === 'string' ? options.sha256 : undefined,
    json: options.json === true,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed the problem (or the help) already.
      return error.exitCode === 0 ? 0 : exitUsage;
    }
    if (error instanceof BundleError || error instanceof OsImageError) {
      process.stderr.write(`metropolis-os-image: ${error.message} [${error.code}]\n`);
      return exitFailed;
    }
    // A bug, not bad input: still one line (the stack would help nobody running a build).
    process.stderr.write(`metropolis-os-image: unexpected error: ${errorMessage(error)}\n`);
    return exitFailed;
  }
}

process.exitCode = await main(process.argv);
