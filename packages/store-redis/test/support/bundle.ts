import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const packageDir = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Bundles a TypeScript entry (and the workspace sources it imports, through the
 * `@tokenkeeper/source` condition) into one `.mjs` file under `.cache/`, so child processes run
 * the current sources on plain Node with no loader and no stale `dist`. ioredis stays external
 * and resolves from this package's node_modules. Returns the file's path.
 */
export async function bundle(entry: string, name: string): Promise<string> {
  const outDir = `${packageDir}.cache`
  mkdirSync(outDir, { recursive: true })
  const outfile = `${outDir}/${name}.mjs`
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@tokenkeeper/source'],
    external: ['ioredis'],
    // Bundled CommonJS (undici) calls require() for Node built-ins.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  })
  return outfile
}
