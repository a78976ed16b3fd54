import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.ts'
import { STEP_IDS } from '../src/demo/scenario.ts'
import { bundledBin } from './support/bundle.ts'
import { captureIo } from './support/io.ts'

let bin: string

beforeAll(async () => {
  bin = await bundledBin()
})
afterAll(() => rmSync(bin, { force: true }))

/** The summary rows: vendor → [token requests, tokens issued, API calls, rejected, faults]. */
function summaryRows(output: string): Map<string, number[]> {
  const start = output.indexOf("Summary (the emulator's counters)")
  expect(start).toBeGreaterThan(-1)
  const rows = new Map<string, number[]>()
  for (const line of output.slice(start).split('\n').slice(2, 6)) {
    const [vendor, ...numbers] = line.trim().split(/\s+/)
    rows.set(vendor ?? '', numbers.map(Number))
  }
  return rows
}

describe('tokenkeeper demo', () => {
  it('runs every vendor end to end in a child process (not a TTY: plain lines) and passes every check', async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null
      stdout: string
      stderr: string
    }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, 'demo', '--pace', '0'], {
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      child.stdout.on('data', (chunk) => {
        out += chunk
      })
      child.stderr.on('data', (chunk) => {
        err += chunk
      })
      child.on('error', reject)
      child.on('close', (exit) => resolve({ code: exit, stdout: out, stderr: err }))
    })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    // No terminal control sequences when the output is not a terminal.
    expect(stdout).not.toContain('\x1b[')

    // One "ok" line per vendor and step.
    for (const vendor of ['ClearID', 'Clear', 'Akamai', 'Apiax']) {
      for (const step of STEP_IDS) {
        expect(stdout).toMatch(
          new RegExp(`^\\+\\d+:\\d\\d:\\d\\d\\s+${vendor}\\s+${step}\\s+ok\\s+\\S`, 'm'),
        )
      }
    }
    expect(stdout).not.toContain('FAIL')
    expect(stdout).toContain('renewed in the background at 61% of the token')
    expect(stdout).toContain('Akamai answers 403, not 401, for an expired token')

    // The summary comes from the emulator's counters: a handful of token requests for
    // hundreds of API calls. The scenario is deterministic (simulated time), so are the counts.
    const rows = summaryRows(stdout)
    expect([...rows.keys()]).toEqual(['ClearID', 'Clear', 'Akamai', 'Apiax'])
    const tokens = Object.fromEntries([...rows].map(([vendor, numbers]) => [vendor, numbers[0]]))
    expect(tokens).toEqual({ ClearID: 7, Clear: 4, Akamai: 7, Apiax: 8 })
    for (const [, [tokenRequests = 0, , apiCalls = 0]] of rows) {
      expect(apiCalls).toBeGreaterThan(5 * tokenRequests)
    }
    expect(stdout).toMatch(/^\d+ token requests served \d+ API calls\.$/m)
    expect(stdout).toMatch(
      /^24 of 24 checks passed in \d+\.\d s \(simulated time \+1:\d\d:\d\d\)\.$/m,
    )
  })

  it('draws a table that updates in place on a terminal, then the same summary', async () => {
    const { io, stdout, stderr } = captureIo({ PATH: process.env.PATH }, { tty: true })
    const code = await runCli(['demo', '--pace', '0'], io)
    expect(stderr.text).toBe('')
    expect(code).toBe(0)
    const text = stdout.text
    expect(text).toContain('\x1b[?25l') // cursor hidden while drawing
    expect(text).toContain('\x1b[?25h') // and shown again
    expect(text).toMatch(new RegExp(`${String.fromCharCode(27)}\\[\\d+F`)) // redrawn in place
    expect(text).toContain('vendor   issue   reuse   renew   reject  fault   extra')
    expect(text).toContain('24 of 24 checks passed')
  })

  it('--plain prints lines even on a terminal; --pace must be a number', async () => {
    const plain = captureIo({ PATH: process.env.PATH, NO_COLOR: '1' }, { tty: true })
    expect(await runCli(['demo', '--plain', '--pace', '0'], plain.io)).toBe(0)
    expect(plain.stdout.text).not.toContain('\x1b[')
    const wrong = captureIo({})
    expect(await runCli(['demo', '--pace', 'fast'], wrong.io)).toBe(2)
    expect(wrong.stderr.text).toContain('--pace needs a number of milliseconds')
  })
})
