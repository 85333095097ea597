// Bundles the node agent into one ESM file with esbuild, so a system image needs no
// node_modules: workspace packages come from TypeScript source (`source` condition).
import { build, type Message } from 'esbuild';
import { errorMessage } from '@metropolis/errors';
import { OsImageError } from './errors.js';

/**
 * Bundled CommonJS dependencies call `require` for node builtins, which an ES module lacks.
 * Only `require` is defined: esbuild renames bundled symbols named `require`, but not
 * `__dirname`/`__filename`, which would then clash with modules that declare their own.
 */
const requireBanner = [
  "import { createRequire as __metropolisCreateRequire } from 'node:module';",
  'const require = __metropolisCreateRequire(import.meta.url);',
].join('\n');

/**
 * The agent at `entry` as one ES module for Node 20 (nothing external but node builtins).
 * Deterministic for the same sources: paths in its comments are relative to `workingDir`.
 * @throws OsImageError OS_IMAGE_AGENT_BUILD_FAILED with esbuild's messages.
 */
export async function bundleAgent(entry: string, workingDir: string): Promise<Uint8Array> {
  try {
    const result = await build({
      entryPoints: [entry],
      absWorkingDir: workingDir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['source'],
      banner: { js: requireBanner },
      // CodedError names errors after their class; keep class names through bundling.
      keepNames: true,
      write: false,
      logLevel: 'silent',
    });
    const [output] = result.outputFiles;
    if (output === undefined || result.outputFiles.length !== 1) {
      throw new OsImageError(
        'OS_IMAGE_AGENT_BUILD_FAILED',
        `esbuild produced ${String(result.outputFiles.length)} files for ${entry}, expected one`,
      );
    }
    return output.contents;
  } catch (cause) {
    if (cause instanceof OsImageError) throw cause;
    throw new OsImageError(
      'OS_IMAGE_AGENT_BUILD_FAILED',
      `bundling the node agent ${entry} failed: ${describe(cause)}`,
      { cause },
    );
  }
}

function describe(failure: unknown): string {
  // esbuild's BuildFailure carries structured messages; anything else only has a message.
  const errors: unknown =
    typeof failure === 'object' && failure !== null && 'errors' in failure
      ? failure.errors
      : undefined;
  if (!Array.isArray(errors) || errors.length === 0) return errorMessage(failure);
  return (errors as Message[])
    .map(({ text, location }) =>
      location === null ? text : `${location.file}:${String(location.line)}: ${text}`,
    )
    .join('; ');
}
