import { basename } from 'node:path'
import type { Emulator } from '@tokenkeeper/emulator'
import { beforeAll, expect } from 'vitest'
import { atMost, type Entry, type Figure, plain, record } from './figures.ts'
import { runSoak, type SoakFigures, type SoakSegment } from './soak.ts'
import type { VendorRig } from './vendors.ts'

/** Ten simulated minutes per lifetime: six lifetimes make the hour. */
export const SEGMENT_MS = 600_000

/** Segments of {@link SEGMENT_MS} each, one per lifetime. */
export function segments(lifetimes: readonly number[], duration = SEGMENT_MS): SoakSegment[] {
  return lifetimes.map((lifetime) => ({ lifetime, duration }))
}

/** `+5 min`, `-5 min`, `0`. */
export function describeSkew(skew: number): string {
  if (skew === 0) return '0'
  const minutes = Math.abs(skew) / 60_000
  return `${skew > 0 ? '+' : '-'}${Number.isInteger(minutes) ? minutes : minutes.toFixed(2)} min`
}

/**
 * The fraction of a token's lifetime, before expiry, inside which the client may renew it: the
 * earliest renewal comes after `1 - fraction` of the lifetime. ClearID renews from half-life,
 * Clear only in the mandatory window (a tenth), the others from the last fifth.
 */
function renewalFraction(rig: VendorRig): number {
  if (rig.vendor === 'clearid') return 0.5
  if (rig.vendor === 'clear') return 0.1
  return 0.2
}

/**
 * Most token requests a correct client makes over `segments`: one per usable lifetime, where a
 * token is renewed no earlier than `1 - renewalFraction` of its life, plus one per segment for
 * the change of lifetime. When the server fixes expiries at whole seconds, a token lives up to
 * 1 s less than granted: under skew the client charges that second to every token (the `Date`
 * header has whole seconds too); without skew a fresh token may have anything from 0 to 1 s
 * less, so the bound allows two requests per lifetime.
 */
export function tokenRequestBound(
  rig: VendorRig,
  plan: readonly SoakSegment[],
  skew: number,
): number {
  const fraction = renewalFraction(rig)
  const wholeSeconds = rig.absoluteExpiry
  let bound = 0
  for (const segment of plan) {
    const usable = wholeSeconds && skew !== 0 ? segment.lifetime - 1 : segment.lifetime
    const perLifetime = wholeSeconds && skew === 0 ? 2 : 1
    bound += perLifetime * Math.ceil(segment.duration / (usable * 1000 * (1 - fraction))) + 1
  }
  return bound
}

const mib = (value: number) => Math.round(value)
const tenth = (value: number) => Math.round(value * 10) / 10

/** Turns soak figures into report cells with their goals. */
export function soakFigures(
  figures: SoakFigures,
  plan: readonly SoakSegment[],
  skew: number,
  tokenBound: number,
): Record<string, Figure> {
  const rssBound = mib(figures.rssBefore) + 32
  const heapGrowth = tenth(figures.heapAfter - figures.heapBefore)
  return {
    lifetimes: plain(plan.map((segment) => segment.lifetime).join(', ')),
    skew: plain(describeSkew(skew)),
    apiCalls: plain(figures.apiCalls),
    racing: plain(figures.burstsRacingRenewal),
    tokenRequests: atMost(figures.tokenRequests, tokenBound),
    expired: atMost(figures.expiredTokenRequests, 0),
    notRecovered: atMost(figures.rejectedNotRecovered, 0),
    failed: atMost(figures.failedCalls, 0),
    unhandled: atMost(figures.unhandledRejections, 0),
    reused: atMost(figures.sessionsKilled, 0),
    rssBefore: { value: mib(figures.rssBefore), volatile: true, tolerance: 16 },
    rssAfter: {
      value: mib(figures.rssAfter),
      goal: `≤ ${rssBound}`,
      met: mib(figures.rssAfter) <= rssBound,
      volatile: true,
      tolerance: 16,
    },
    heapGrowth: {
      value: heapGrowth,
      goal: '≤ 4',
      met: heapGrowth <= 4,
      volatile: true,
      tolerance: 1,
    },
  }
}

/** Asserts every goal of a row (after it has been recorded, so the report shows the figures). */
export function expectGoalsMet(figures: Record<string, Figure>): void {
  const missed = Object.entries(figures)
    .filter(([, figure]) => figure.met === false)
    .map(([key, figure]) => `${key} = ${figure.value} (goal ${figure.goal})`)
  expect(missed).toEqual([])
}

/**
 * Before a file's first measured hour: a short unrecorded soak of its vendor, so the first hour
 * does not count the process's one-time growth (compiled code, connection pools) as its own.
 */
export function warmUpProcess(rig: VendorRig): void {
  beforeAll(async () => {
    await runSoak({ rig, skew: 0, segments: segments([60], 600_000), seed: 1, warmUp: 0 })
  })
}

/** Options of {@link soakRun}. */
export interface SoakRunOptions {
  readonly rig: VendorRig
  readonly skew: number
  readonly lifetimes: readonly number[]
  readonly seed: number
  readonly exercises: string
  /** The test file (its `import.meta.url`). */
  readonly file: string
  readonly segmentMs?: number
  readonly warmUp?: number
  readonly meanCallInterval?: number
  readonly knownDefect?: string
  readonly id?: string
  readonly title?: string
  /** Overrides the token-request bound (defect tests state the bound a fixed client meets). */
  readonly tokenBound?: number
  /** Configures the emulator before the run. */
  readonly prepare?: (emulator: Emulator) => void
}

/** Runs one soak scenario, records its row and returns its cells. */
export async function soakRun(options: SoakRunOptions): Promise<Record<string, Figure>> {
  const plan = segments(options.lifetimes, options.segmentMs)
  const measured = await runSoak({
    rig: options.rig,
    skew: options.skew,
    segments: plan,
    seed: options.seed,
    ...(options.warmUp !== undefined ? { warmUp: options.warmUp } : {}),
    ...(options.meanCallInterval !== undefined
      ? { meanCallInterval: options.meanCallInterval }
      : {}),
    ...(options.prepare ? { prepare: options.prepare } : {}),
  })
  const bound = options.tokenBound ?? tokenRequestBound(options.rig, plan, options.skew)
  const figures = soakFigures(measured, plan, options.skew, bound)
  const entry: Entry = {
    id: options.id ?? `soak/${options.rig.vendor}/${describeSkew(options.skew)}`,
    section: 'soak',
    title: options.title ?? `${options.rig.packageName}, skew ${describeSkew(options.skew)}`,
    exercises: options.exercises,
    figures,
    file: basename(new URL(options.file).pathname),
    ...(options.knownDefect ? { knownDefect: options.knownDefect } : {}),
  }
  record(entry)
  return figures
}
