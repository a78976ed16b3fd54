import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** This package's directory, found from wherever this code runs (sources or a bundle in .cache/). */
export function packageDir(): string {
  let directory = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(directory, 'package.json')
    if (
      existsSync(manifest) &&
      JSON.parse(readFileSync(manifest, 'utf8')).name === '@tokenkeeper/store-redis'
    ) {
      return directory
    }
    const parent = dirname(directory)
    if (parent === directory)
      throw new Error('Cannot find the @tokenkeeper/store-redis package directory')
    directory = parent
  }
}

/**
 * Bundles a TypeScript entry (and the workspace sources it imports, through the
 * `@tokenkeeper/source` condition) into one `.mjs` file under `.cache/`, so child processes run
 * the current sources on plain Node with no loader and no stale `dist`. ioredis stays external
 * and resolves from this package's node_modules. Returns the file's path.
 */
export async function bundle(entry: string, name: string): Promise<string> {
  const outDir = join(packageDir(), '.cache')
  mkdirSync(outDir, { recursive: true })
  const outfile = join(outDir, `${name}.mjs`)
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@tokenkeeper/source'],
    external: ['ioredis', 'esbuild'],
    // Bundled CommonJS (undici) calls require() for Node built-ins.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  })
  return outfile
}
