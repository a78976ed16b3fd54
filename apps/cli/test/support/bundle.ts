import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** This package's directory, found from wherever this code runs. */
export function packageDir(): string {
  let directory = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(directory, 'package.json')
    if (
      existsSync(manifest) &&
      JSON.parse(readFileSync(manifest, 'utf8')).name === '@tokenkeeper/cli'
    ) {
      return directory
    }
    const parent = dirname(directory)
    if (parent === directory) throw new Error('Cannot find the @tokenkeeper/cli package directory')
    directory = parent
  }
}

let bundled: Promise<string> | undefined

/**
 * The `tokenkeeper` bin bundled from the current sources (and the workspace sources it imports,
 * through the `@tokenkeeper/source` condition) into one `.mjs` file under `.cache/`, so child
 * processes run exactly the code under test on plain Node, without a stale `dist`.
 */
export function bundledBin(): Promise<string> {
  bundled ??= (async () => {
    const outDir = join(packageDir(), '.cache')
    mkdirSync(outDir, { recursive: true })
    const outfile = join(outDir, `tokenkeeper-${process.pid}.mjs`)
    await build({
      entryPoints: [join(packageDir(), 'src', 'bin.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['@tokenkeeper/source'],
      // Bundled CommonJS (undici) calls require() for Node built-ins.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'warning',
    })
    return outfile
  })()
  return bundled
}
