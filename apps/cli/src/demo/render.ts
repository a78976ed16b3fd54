import type { CliOutput } from '../io.ts'
import { STEP_IDS, type StepId } from './scenario.ts'

/** Where a step stands. */
export type StepStatus = 'pending' | 'running' | 'ok' | 'failed' | 'skipped'

/** One vendor's row of the progress table. */
export interface DemoRow {
  readonly title: string
  readonly extraLabel: string
  readonly steps: Record<StepId, StepStatus>
  /** Token requests the emulator has seen for this vendor. */
  tokens: number
  /** API calls the emulator has answered for this vendor. */
  calls: number
}

/** What the renderers draw. */
export interface DemoState {
  readonly rows: DemoRow[]
  /** Simulated time elapsed since the start, ms. */
  simulated: number
  /** The step running now, for the line under the table. */
  current: { row: DemoRow; step: StepId } | undefined
}

/** Shows the demo's progress. */
export interface DemoRenderer {
  /** Something changed (a step started or finished, counters moved). */
  update(state: DemoState): void
  /** A step finished; `detail` says what happened, in one line. */
  finished(state: DemoState, row: DemoRow, step: StepId, detail: string): void
  /** Leaves the final table on screen and restores the terminal. */
  close(state: DemoState): void
}

/** Terminal colours, or none. */
export interface Palette {
  ok(text: string): string
  failed(text: string): string
  running(text: string): string
  dim(text: string): string
  bold(text: string): string
}

const plainPalette: Palette = {
  ok: (text) => text,
  failed: (text) => text,
  running: (text) => text,
  dim: (text) => text,
  bold: (text) => text,
}

const ansi = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`

const colourPalette: Palette = {
  ok: ansi(32, 39),
  failed: ansi(31, 39),
  running: ansi(33, 39),
  dim: ansi(2, 22),
  bold: ansi(1, 22),
}

/** Colours for a terminal that wants them (`NO_COLOR` and `TERM=dumb` turn them off). */
export function paletteFor(
  output: CliOutput,
  env: Readonly<Record<string, string | undefined>>,
): Palette {
  const wanted = output.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb'
  return wanted ? colourPalette : plainPalette
}

/** `+1:23:45` of simulated time. */
export function formatSimulated(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  const hours = Math.floor(seconds / 3600)
  const minutes = Math.floor((seconds % 3600) / 60)
  return `+${hours}:${String(minutes).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const VENDOR_WIDTH = 9
const STEP_WIDTH = 8
const EXTRA_WIDTH = 16

/**
 * The table for a terminal, redrawn in place (cursor up, clear, draw) on every change and on a
 * spinner tick. Lines are cut to the terminal width so that none wraps, which would break the
 * redraw.
 */
export class TableRenderer implements DemoRenderer {
  readonly #output: CliOutput
  readonly #palette: Palette
  #lines = 0
  #frame = 0
  #state: DemoState | undefined
  /** What the last finished step did, shown under the table. */
  #detail = ''
  readonly #ticker: ReturnType<typeof setInterval>
  #closed = false

  constructor(output: CliOutput, palette: Palette) {
    this.#output = output
    this.#palette = palette
    this.#output.write('\x1b[?25l') // hide the cursor while drawing
    this.#ticker = setInterval(() => {
      this.#frame = (this.#frame + 1) % SPINNER.length
      if (this.#state) this.#draw(this.#state)
    }, 100)
    this.#ticker.unref()
  }

  update(state: DemoState): void {
    this.#state = state
    this.#draw(state)
  }

  finished(state: DemoState, row: DemoRow, step: StepId, detail: string): void {
    this.#detail = `${row.title} ${step}: ${detail}`
    this.update(state)
  }

  close(state: DemoState): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#ticker)
    this.#draw({ ...state, current: undefined }, false)
    this.#output.write('\x1b[?25h')
  }

  #draw(state: DemoState, withDetail = true): void {
    if (this.#closed && withDetail) return
    const { ok, failed, running, dim, bold } = this.#palette
    const width = Math.max(40, (this.#output.columns ?? 100) - 1)
    const cell = (status: StepStatus): [string, number] => {
      switch (status) {
        case 'ok':
          return [ok('✓'), 1]
        case 'failed':
          return [failed('✗'), 1]
        case 'running':
          return [running(SPINNER[this.#frame] ?? '*'), 1]
        case 'skipped':
          return [dim('-'), 1]
        default:
          return [dim('·'), 1]
      }
    }
    const pad = (text: string, visible: number, size: number) =>
      text + ' '.repeat(Math.max(1, size - visible))
    const lines: string[] = [
      bold(`tokenkeeper demo`) + dim(`  simulated time ${formatSimulated(state.simulated)}`),
      '',
      dim(
        pad('vendor', 6, VENDOR_WIDTH) +
          STEP_IDS.slice(0, -1)
            .map((step) => pad(step, step.length, STEP_WIDTH))
            .join('') +
          pad('extra', 5, EXTRA_WIDTH) +
          pad('tokens', 6, 8) +
          'API calls',
      ),
    ]
    for (const row of state.rows) {
      let line = pad(row.title, row.title.length, VENDOR_WIDTH)
      for (const step of STEP_IDS.slice(0, -1)) {
        const [text, visible] = cell(row.steps[step])
        line += pad(text, visible, STEP_WIDTH)
      }
      const [extra, visible] = cell(row.steps.extra)
      line += pad(`${extra} ${row.extraLabel}`, visible + 1 + row.extraLabel.length, EXTRA_WIDTH)
      line += pad(String(row.tokens), String(row.tokens).length, 8) + String(row.calls)
      lines.push(line)
    }
    if (withDetail) {
      lines.push('')
      const current = state.current
      const text = current ? `${current.row.title} ${current.step}: running…` : this.#detail
      lines.push(dim(truncate(text || ' ', width)))
      if (current && this.#detail) lines.push(dim(truncate(this.#detail, width)))
      else lines.push('')
    }
    let output = this.#lines > 0 ? `\x1b[${this.#lines}F\x1b[J` : ''
    output += lines.map((line) => `${line}\n`).join('')
    this.#lines = lines.length
    this.#output.write(output)
  }
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`
}

/** One line per finished step: for logs, pipes and `--plain`. */
export class PlainRenderer implements DemoRenderer {
  readonly #output: CliOutput

  constructor(output: CliOutput) {
    this.#output = output
  }

  update(): void {}

  finished(state: DemoState, row: DemoRow, step: StepId, detail: string): void {
    const status = row.steps[step] === 'ok' ? 'ok  ' : 'FAIL'
    this.#output.write(
      `${formatSimulated(state.simulated).padEnd(9)} ${row.title.padEnd(8)} ${step.padEnd(7)} ${status} ${detail}\n`,
    )
  }

  close(): void {}
}
