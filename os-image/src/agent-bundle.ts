// Bundles a program (the node agent, the operator) into ES modules with esbuild, so a system
// image needs no node_modules: workspace packages come from TypeScript source (`source`
// condition). Dynamic imports become chunks of their own, loaded only when a node needs them.
import { relative, sep } from 'node:path';
import { build, type Message } from 'esbuild';
import { errorMessage } from '@metropolis/errors';
import { OsImageError } from './errors.js';
import type { SystemImageFile } from './system-image.js';

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
 * The program at `entry` as `<name>.mjs` for Node 20 (nothing external but node builtins), plus
 * a chunk in `<name>-chunks/` for each dynamic import and for code that chunks share, in a
 * stable order. Deterministic for the same sources: chunk names carry a hash of their contents,
 * and paths in comments are relative to `workingDir`.
 * `minify`: without whitespace and comments and with shorter syntax (names kept), for a bundle
 * of others' code whose source would otherwise sit in the heap as written.
 * @throws OsImageError OS_IMAGE_AGENT_BUILD_FAILED with esbuild's messages.
 */
export async function bundleAgent(
  entry: string,
  workingDir: string,
  name: string,
  options: { readonly minify?: boolean } = {},
): Promise<SystemImageFile[]> {
  // Never written: esbuild only needs a directory to name its outputs relative to.
  const outdir = `${workingDir}${sep}bundle-out`;
  try {
    const result = await build({
      entryPoints: [{ in: entry, out: name }],
      absWorkingDir: workingDir,
      outdir,
      bundle: true,
      splitting: true,
      chunkNames: `${name}-chunks/[name]-[hash]`,
      outExtension: { '.js': '.mjs' },
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['source'],
      banner: { js: requireBanner },
      // CodedError names errors after their class; keep class names through bundling.
      keepNames: true,
      // Whitespace, comments and syntax only: names stay, so errors and stacks still say what.
      minifyWhitespace: options.minify === true,
      minifySyntax: options.minify === true,
      write: false,
      logLevel: 'silent',
    });
    const files = result.outputFiles.map((output) => ({
      name: relative(outdir, output.path).split(sep).join('/'),
      contents: asciiSource(output.text),
    }));
    const main = `${name}.mjs`;
    if (!files.some((file) => file.name === main)) {
      throw new OsImageError(
        'OS_IMAGE_AGENT_BUILD_FAILED',
        `esbuild produced no ${main} for ${entry}`,
      );
    }
    // The program first, then its chunks by name.
    return files.sort((a, b) =>
      a.name === main ? -1 : b.name === main ? 1 : a.name < b.name ? -1 : 1,
    );
  } catch (cause) {
    if (cause instanceof OsImageError) throw cause;
    throw new OsImageError(
      'OS_IMAGE_AGENT_BUILD_FAILED',
      `bundling ${entry} failed: ${describe(cause)}`,
      { cause },
    );
  }
}

/**
 * The output with every non-ASCII character written as `\u{...}`. esbuild already escapes
 * strings, regular expressions and identifiers (charset `ascii`) but copies comments as they
 * are, and V8 keeps a module's source as a string: one character above Latin-1 in a comment
 * makes that string two bytes per character, for the whole multi-MiB file.
 */
export function asciiSource(text: string): Uint8Array {
  return Buffer.from(
    text.replace(/[^\0-\x7f]/gu, (char) => `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`),
  );
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
