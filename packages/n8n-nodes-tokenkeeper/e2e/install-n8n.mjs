#!/usr/bin/env node
// Installs n8n (pinned) on Node 24 into a cache folder outside the repository, once; later runs
// reuse it. Run it on its own (`node e2e/install-n8n.mjs`) or let the end-to-end script call it.
//
// Why the extra steps (see the design notes on running n8n headlessly):
// - n8n 2.36+ needs Node >= 24, so every npm and node-gyp step runs with Node 24 first on PATH.
// - `n8n@2.41.1` only resolves on the registry mirror with `linkedom` pinned by an override.
// - Install scripts are skipped (`--ignore-scripts`: several try to download prebuilt binaries),
//   then the two native modules n8n loads (sqlite3, isolated-vm) are compiled with node-gyp
//   against the Node 24 headers, because the machine's npm config points at another Node's.
// The folder is complete only once the marker file exists, so an interrupted install is redone.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureNode24 } from '../../../scripts/node24.mjs'

export const n8nVersion = '2.41.1'
const overrides = { linkedom: '0.18.14' }
const nativeModules = ['sqlite3', 'isolated-vm']

const cacheRoot =
  process.env.TOKENKEEPER_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tokenkeeper')

/** Folder n8n is installed into. */
export const n8nPrefix = join(cacheRoot, `n8n-${n8nVersion}`)
const markerFile = join(n8nPrefix, '.tokenkeeper-install-complete')
const lockDirectory = `${n8nPrefix}.lock`

function log(message) {
  console.error(`[install-n8n] ${message}`)
}

function run(command, args, options) {
  log(`$ ${command} ${args.join(' ')}${options.cwd ? `   (in ${options.cwd})` : ''}`)
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options })
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed with ${result.status ?? result.signal}; n8n ${n8nVersion} could not be installed into ${n8nPrefix}`,
    )
  }
}

/** Node 24's `bin` folder, its binary and the folder holding its headers (for node-gyp). */
function node24Environment() {
  const { binDir, nodeBin, version } = ensureNode24()
  const realBinary = execFileSync('readlink', ['-f', nodeBin], { encoding: 'utf8' }).trim()
  // node@24 from the registry: node_modules/node/bin/node, headers in node_modules/node/node_modules/node-<platform>-<arch>.
  const nodeDir = join(
    dirname(dirname(realBinary)),
    'node_modules',
    `node-${process.platform}-${process.arch}`,
  )
  if (!existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) {
    throw new Error(`Node 24 headers not found in ${nodeDir}; cannot compile n8n's native modules`)
  }
  const env = {
    ...process.env,
    PATH: `${binDir}:${process.env.PATH}`,
    npm_config_nodedir: nodeDir,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  }
  return { env, nodeBin, version, nodeDir }
}

function n8nBinary() {
  return join(n8nPrefix, 'node_modules', 'n8n', 'bin', 'n8n')
}

function isInstalled() {
  if (!existsSync(markerFile)) return false
  try {
    return JSON.parse(readFileSync(markerFile, 'utf8')).version === n8nVersion
  } catch {
    return false
  }
}

function acquireLock() {
  mkdirSync(cacheRoot, { recursive: true })
  const deadline = Date.now() + 30 * 60_000
  for (;;) {
    try {
      mkdirSync(lockDirectory)
      writeFileSync(join(lockDirectory, 'pid'), String(process.pid))
      return
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
      let owner = Number.NaN
      try {
        owner = Number(readFileSync(join(lockDirectory, 'pid'), 'utf8'))
      } catch {}
      let alive = false
      try {
        if (Number.isInteger(owner)) {
          process.kill(owner, 0)
          alive = true
        }
      } catch {}
      // A lock left by a dead process, or an empty one older than a minute, is stale.
      const age = Date.now() - statSync(lockDirectory).mtimeMs
      if (!alive && (Number.isInteger(owner) || age > 60_000)) {
        rmSync(lockDirectory, { recursive: true, force: true })
        continue
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDirectory}`)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000)
    }
  }
}

/**
 * Makes sure n8n is installed and runnable; returns how to run it.
 * @returns {{ n8nBin: string, nodeBin: string, env: NodeJS.ProcessEnv, prefix: string }}
 */
export function ensureN8n() {
  const { env, nodeBin, version, nodeDir } = node24Environment()
  if (!isInstalled()) {
    acquireLock()
    try {
      if (!isInstalled()) install(env, version, nodeDir)
    } finally {
      rmSync(lockDirectory, { recursive: true, force: true })
    }
  }
  return { n8nBin: n8nBinary(), nodeBin, env, prefix: n8nPrefix }
}

function install(env, version, nodeDir) {
  const started = Date.now()
  log(`installing n8n ${n8nVersion} with Node ${version} into ${n8nPrefix} (first time: minutes)`)
  mkdirSync(n8nPrefix, { recursive: true })
  writeFileSync(
    join(n8nPrefix, 'package.json'),
    `${JSON.stringify(
      {
        name: 'tokenkeeper-n8n-runtime',
        private: true,
        description: 'n8n for the n8n-nodes-tokenkeeper end-to-end test',
        dependencies: { n8n: n8nVersion },
        overrides,
      },
      null,
      2,
    )}\n`,
  )
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: n8nPrefix,
    env,
  })
  const nodeGyp = findNodeGyp(env)
  for (const name of nativeModules) {
    for (const directory of findPackageDirectories(name)) {
      run(nodeBin(env), [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--jobs=max'], {
        cwd: directory,
        env,
      })
    }
  }
  const check = spawnSync(nodeBin(env), [n8nBinary(), '--version'], {
    encoding: 'utf8',
    env,
    timeout: 120_000,
  })
  const reported = check.stdout?.trim().split('\n').pop()
  if (check.status !== 0 || reported !== n8nVersion) {
    throw new Error(
      `installed n8n does not run: exit ${check.status}, output ${JSON.stringify(reported)} ${check.stderr?.slice(-2000) ?? ''}`,
    )
  }
  // Load the native modules once with Node 24 so a bad build fails here, not mid-test.
  for (const name of nativeModules) {
    const directory = findPackageDirectories(name)[0]
    run(nodeBin(env), ['-e', `require(${JSON.stringify(directory)})`], { cwd: n8nPrefix, env })
  }
  writeFileSync(
    markerFile,
    `${JSON.stringify({ version: n8nVersion, node: version, seconds: Math.round((Date.now() - started) / 1000) })}\n`,
  )
  log(`n8n ${n8nVersion} installed in ${Math.round((Date.now() - started) / 1000)} s`)
}

function nodeBin(env) {
  return execFileSync('sh', ['-c', 'command -v node'], { env, encoding: 'utf8' }).trim()
}

function findNodeGyp(env) {
  const npmRoot = execFileSync('npm', ['root', '-g'], { env, encoding: 'utf8' }).trim()
  const candidates = [
    join(n8nPrefix, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ]
  const found = candidates.find((candidate) => existsSync(candidate))
  if (!found) throw new Error(`node-gyp not found (looked in ${candidates.join(', ')})`)
  return found
}

/** Every installed copy of a package (npm may nest more than one version). */
function findPackageDirectories(name) {
  const output = execFileSync(
    'find',
    [
      join(n8nPrefix, 'node_modules'),
      '-type',
      'f',
      '-path',
      `*/node_modules/${name}/package.json`,
      '-not',
      '-path',
      `*/node_modules/${name}/*/package.json`,
    ],
    { encoding: 'utf8' },
  )
  const directories = output
    .split('\n')
    .filter(Boolean)
    .map((file) => dirname(file))
    .filter((directory) => existsSync(join(directory, 'binding.gyp')))
  if (directories.length === 0) throw new Error(`${name} is not in the n8n install`)
  return directories
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const { n8nBin } = ensureN8n()
    console.log(n8nBin)
  } catch (error) {
    console.error(`[install-n8n] FAILED: ${error.message}`)
    process.exit(1)
  }
}
