import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock, TokenKeeperError } from '@tokenkeeper/auth-core'
import { type Counters, startEmulator, type Vendor } from '@tokenkeeper/emulator'
import type { ResolvedIo } from '../io.ts'
import { TokenEventLog } from '../token-events.ts'
import {
  type DemoRenderer,
  type DemoRow,
  type DemoState,
  formatSimulated,
  PlainRenderer,
  paletteFor,
  TableRenderer,
} from './render.ts'
import {
  SCENARIOS,
  type ScenarioContext,
  STEP_IDS,
  type StepId,
  type VendorScenario,
} from './scenario.ts'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** One line per step even on a terminal. */
  plain?: boolean
  /** Real ms to pause after each step, so people can follow. Default 500. */
  pace?: number
  /** Token lifetime in simulated seconds. Default 600. */
  lifetime?: number
}

/** A step that neither finishes nor fails within this many real ms is failed. */
const STEP_TIMEOUT = 60_000

/**
 * `tokenkeeper demo`: starts the emulator on loopback and runs every vendor through its token
 * lifecycle (first issue, reuse, background renewal, a rejected token, a fault, and one
 * vendor-specific hazard), checking each outcome against the emulator's counters.
 *
 * Time is simulated: the emulator and every token client share a `ManualClock`, so a token's
 * ten-minute life passes in an instant and renewals happen at exactly the moments the rules
 * say, however loaded the machine is. The demo waits for events (a renewal finishing), never
 * for wall-clock time; the only real waiting is `pace`, for the viewer.
 *
 * Resolves with the exit code: 0 when every check passed, 1 otherwise.
 */
export async function runDemo(options: DemoOptions, io: ResolvedIo): Promise<number> {
  const startedAt = performance.now()
  const pace = options.pace ?? 500
  const clock = new ManualClock(Date.now())
  const start = clock.now()
  const emulator = await startEmulator({ now: () => clock.now() })
  const directory = mkdtempSync(join(tmpdir(), 'tokenkeeper-demo-'))
  const events = new TokenEventLog(() => clock.now())
  const context: ScenarioContext = {
    emulator,
    clock,
    events,
    lifetime: options.lifetime ?? 600,
    directory,
  }
  const rows: DemoRow[] = SCENARIOS.map((entry) => ({
    title: entry.title,
    extraLabel: entry.extraLabel,
    steps: Object.fromEntries(STEP_IDS.map((step) => [step, 'pending'])) as DemoRow['steps'],
    tokens: 0,
    calls: 0,
  }))
  const state: DemoState = { rows, simulated: 0, current: undefined }
  const tty = io.stdout.isTTY === true && options.plain !== true
  const renderer: DemoRenderer = tty
    ? new TableRenderer(io.stdout, paletteFor(io.stdout, io.env))
    : new PlainRenderer(io.stdout)
  const host = new URL(emulator.urls.admin).hostname
  io.stdout.write(
    `tokenkeeper demo: 4 vendors against the embedded emulator on ${host}, with a simulated clock (tokens live ${Math.round(context.lifetime / 60)} min)\n\n`,
  )

  const refresh = () => {
    const counters = emulator.counters()
    SCENARIOS.forEach((entry, index) => {
      const row = rows[index]!
      const vendor = counters[entry.id as Vendor]
      row.tokens = vendor.tokenRequests
      row.calls = vendor.apiAccepted + vendor.apiRejected
    })
    state.simulated = clock.now() - start
  }

  let checks = 0
  let failures = 0
  try {
    for (const [index, entry] of SCENARIOS.entries()) {
      const row = rows[index]!
      let scenario: VendorScenario | undefined
      try {
        scenario = entry.create(context)
        for (const step of STEP_IDS) {
          io.signal?.throwIfAborted()
          row.steps[step] = 'running'
          state.current = { row, step }
          renderer.update(state)
          checks++
          let detail: string
          try {
            detail = await withTimeout(scenario.run(step), STEP_TIMEOUT, io.signal)
            row.steps[step] = 'ok'
          } catch (error) {
            if (io.signal?.aborted) throw error
            failures++
            row.steps[step] = 'failed'
            detail = `failed: ${describe(error)}`
          }
          state.current = undefined
          refresh()
          renderer.finished(state, row, step as StepId, detail)
          if (row.steps[step] === 'failed') {
            // Later steps build on this one: skip them rather than report follow-on failures.
            for (const later of STEP_IDS.slice(STEP_IDS.indexOf(step) + 1)) {
              row.steps[later] = 'skipped'
            }
            renderer.update(state)
            break
          }
          await sleep(pace, io.signal)
        }
      } catch (error) {
        if (io.signal?.aborted) throw error
        failures++
        renderer.finished(state, row, 'issue', `could not start: ${describe(error)}`)
      } finally {
        await scenario?.close()
      }
    }
  } finally {
    refresh()
    renderer.close(state)
    events.close()
    const counters = emulator.counters()
    await emulator.stop()
    rmSync(directory, { recursive: true, force: true })
    if (!io.signal?.aborted) {
      io.stdout.write(summary(counters, state, checks, failures, performance.now() - startedAt))
    }
  }
  return failures === 0 ? 0 : 1
}

/** The closing summary: token requests against API calls per vendor, from the emulator. */
function summary(
  counters: Counters,
  state: DemoState,
  checks: number,
  failures: number,
  elapsed: number,
): string {
  const header = ['vendor', 'token requests', 'tokens issued', 'API calls', 'rejected', 'faults']
  const rows: string[][] = []
  let tokens = 0
  let calls = 0
  SCENARIOS.forEach((entry, index) => {
    const vendor = counters[entry.id as Vendor]
    const apiCalls = vendor.apiAccepted + vendor.apiRejected
    tokens += vendor.tokenRequests
    calls += apiCalls
    rows.push([
      state.rows[index]?.title ?? entry.id,
      String(vendor.tokenRequests),
      String(vendor.tokensIssued),
      String(apiCalls),
      String(vendor.apiRejected),
      String(vendor.faultsInjected),
    ])
  })
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  )
  const format = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('  ')
      .trimEnd()
  const passed = checks - failures
  return [
    '',
    "Summary (the emulator's counters)",
    format(header),
    ...rows.map(format),
    '',
    `${tokens} token requests served ${calls} API calls.`,
    `${passed} of ${checks} checks passed in ${(elapsed / 1000).toFixed(1)} s (simulated time ${formatSimulated(state.simulated)}).`,
    '',
  ].join('\n')
}

function describe(error: unknown): string {
  if (TokenKeeperError.is(error)) return `${error.message} [${error.code}]`
  return error instanceof Error ? error.message : String(error)
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function withTimeout<T>(
  promise: Promise<T>,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      reject(new Error(`the step did not finish within ${timeout / 1000} s`))
    }, timeout)
    timer.unref()
    signal?.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
