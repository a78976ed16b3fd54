#!/usr/bin/env node
// Runs a command with Node 24 first on PATH. Node 24 comes from the registry package `node@24`,
// installed once into a cache folder outside the repository and reused afterwards.
//   node scripts/node24.mjs <command> [args...]
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

const version = '24'
const cacheRoot =
  process.env.TOKENKEEPER_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tokenkeeper')
const prefix = join(cacheRoot, `node${version}`)
const binDir = join(prefix, 'node_modules', '.bin')
const nodeBin = join(binDir, 'node')

export function ensureNode24() {
  if (!existsSync(nodeBin)) {
    mkdirSync(prefix, { recursive: true })
    console.error(`Installing node@${version} into ${prefix} (once)...`)
    execFileSync(
      'npm',
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, `node@${version}`],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    )
  }
  const actual = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim()
  if (!actual.startsWith(`v${version}.`))
    throw new Error(`expected Node ${version}, found ${actual} at ${nodeBin}`)
  return { nodeBin, binDir, version: actual }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, ...args] = process.argv.slice(2)
  const { binDir: dir, version: actual } = ensureNode24()
  if (!command) {
    console.log(join(dir, 'node'))
    process.exit(0)
  }
  console.error(`Running with Node ${actual}: ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
  })
  process.exit(result.status ?? 1)
}
