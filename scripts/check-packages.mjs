#!/usr/bin/env node
// Release readiness for every public workspace package:
//   1. publint and are-the-types-wrong (ESM-only profile) on the built package;
//   2. pack every public package, install the tarballs together into an empty folder with npm
//      (as a user would), and import each one with `import` and with `require` (require(esm)).
// Run after `pnpm build`.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const run = (command, args, options = {}) =>
  execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options })

const packages = ['packages', 'apps']
  .flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name)))
  .map((dir) => {
    try {
      return { dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }
    } catch {
      return undefined
    }
  })
  .filter((entry) => entry && !entry.manifest.private)

const failures = []
const bin = (name) => join(root, 'node_modules', '.bin', name)
for (const { dir, manifest } of packages) {
  for (const [label, command, args] of [
    ['publint', bin('publint'), ['--strict']],
    // ESM-only packages (Node >= 20.19 loads them with require(esm) too). n8n's package is CommonJS.
    [
      'attw',
      bin('attw'),
      [
        '--pack',
        '.',
        '--format',
        'table-flipped',
        '--profile',
        manifest.type === 'module' ? 'esm-only' : 'node16',
      ],
    ],
  ]) {
    try {
      run(command, args, { cwd: dir })
      console.log(`ok   ${label.padEnd(8)} ${manifest.name}`)
    } catch (error) {
      failures.push(`${label} ${manifest.name}`)
      console.log(
        `FAIL ${label.padEnd(8)} ${manifest.name}\n${error.stdout ?? ''}${error.stderr ?? ''}`,
      )
    }
  }
}

const work = mkdtempSync(join(tmpdir(), 'tokenkeeper-pack-'))
try {
  const tarballs = packages.map(({ dir }) => {
    const output = run('pnpm', ['pack', '--pack-destination', work], { cwd: dir })
      .trim()
      .split('\n')
    return output[output.length - 1].trim()
  })
  const consumer = join(work, 'consumer')
  run('mkdir', ['-p', consumer])
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  )
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=peer', ...tarballs],
    { cwd: consumer },
  )
  for (const { manifest } of packages) {
    if (!manifest.exports && !manifest.main) continue
    const name = manifest.name
    const script = `
      const esm = await import(${JSON.stringify(name)});
      const { createRequire } = await import('node:module');
      const cjs = createRequire(import.meta.url)(${JSON.stringify(name)});
      const keys = Object.keys(esm).filter((k) => k !== 'default');
      if (keys.length === 0 && !esm.default) throw new Error('no exports');
      if (Object.keys(cjs).length === 0) throw new Error('require() returned nothing');
      console.log(keys.length || Object.keys(esm.default).length);`
    try {
      const count = run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: consumer,
      }).trim()
      console.log(`ok   import   ${name} (${count} exports, import and require)`)
    } catch (error) {
      failures.push(`import ${name}`)
      console.log(`FAIL import   ${name}\n${error.stdout ?? ''}${error.stderr ?? ''}`)
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

if (failures.length > 0) {
  console.error(`\n${failures.length} package check(s) failed: ${failures.join(', ')}`)
  process.exit(1)
}
console.log(`\nAll ${packages.length} public packages pass publint, attw and pack-and-import.`)
