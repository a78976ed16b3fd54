// Bundles bench.ts (and the workspace sources it uses) with esbuild and runs it: plain Node, no
// loader, always the current sources. Usage: pnpm --filter @tokenkeeper/store-redis bench
import { mkdirSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
mkdirSync(`${packageDir}.cache`, { recursive: true })
const outfile = `${packageDir}.cache/bench.mjs`
await build({
  entryPoints: [`${packageDir}bench/bench.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['@tokenkeeper/source'],
  external: ['ioredis', 'esbuild'],
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
})
await import(pathToFileURL(outfile).href)
