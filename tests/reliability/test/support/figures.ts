import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where each test file leaves its entries for the report (see `report.ts`). */
export const RESULTS_DIRECTORY = fileURLToPath(new URL('../../.results', import.meta.url))

/** One measured figure. */
export interface Figure {
  readonly value: number | string
  /** The goal or bound for this cell, e.g. `0` or `≤ 9`. Shown next to the value. */
  readonly goal?: string
  /** Whether the value meets its goal (`undefined`: no goal). */
  readonly met?: boolean
  /**
   * Measured from real resources (memory), so it differs between runs: the report keeps the
   * previous value while the new one stays within `tolerance` and meets its goal.
   */
  readonly volatile?: boolean
  readonly tolerance?: number
}

/** The report sections, in the order they appear. */
export type Section = 'soak' | 'faults' | 'generated' | 'secrets' | 'transport'

/** One row of the report. */
export interface Entry {
  /** Stable id, e.g. `soak/clearid/+5min`. */
  readonly id: string
  readonly section: Section
  /** Sub-table within the section (e.g. the vendor of a fault-matrix row). */
  readonly group?: string
  /** Row label. */
  readonly title: string
  /** What the row exercises (short). */
  readonly exercises?: string
  readonly figures: Readonly<Record<string, Figure>>
  /** Set when the row documents an open defect (an `it.fails` test): what and where it is noted. */
  readonly knownDefect?: string
  /** The test file that wrote it (basename). */
  readonly file: string
  /** Position within its file's rows (set by {@link record}: the order the rows were written). */
  readonly order?: number
}

/** A figure with a numeric goal `value <= bound`. */
export function atMost(value: number, bound: number): Figure {
  return { value, goal: bound === 0 ? '0' : `≤ ${bound}`, met: value <= bound }
}

/** A figure without a goal. */
export function plain(value: number | string): Figure {
  return { value }
}

/** Rows written so far by this test file (each file runs in a process of its own). */
let written = 0

/** Writes an entry for the report. Entries of one run are collected by the global teardown. */
export function record(entry: Entry): void {
  mkdirSync(RESULTS_DIRECTORY, { recursive: true })
  const name = entry.id.replace(/[^A-Za-z0-9._-]+/g, '_')
  const ordered: Entry = { ...entry, order: written++ }
  writeFileSync(join(RESULTS_DIRECTORY, `${name}.json`), `${JSON.stringify(ordered, null, 2)}\n`)
}
