import { trackUnhandledRejections } from '@tokenkeeper/auth-core/testing'
import { type Emulator, startEmulator } from '@tokenkeeper/emulator'
import { drainRejections, SimulatedTime } from './harness.ts'
import { between, integerBetween, seededRandom } from './random.ts'
import type { CallPath, VendorRig } from './vendors.ts'

/** A stretch of simulated time during which the emulator grants one token lifetime. */
export interface SoakSegment {
  /** Token lifetime the emulator grants, seconds. */
  readonly lifetime: number
  /** Simulated duration, ms. */
  readonly duration: number
}

/** One simulated hour (or more) of one vendor at one clock skew, lifetimes changing by segment. */
export interface SoakScenario {
  readonly rig: VendorRig
  /** Emulator clock minus client clock, ms (positive: the vendor's clock is ahead). */
  readonly skew: number
  readonly segments: readonly SoakSegment[]
  readonly seed: number
  /** Simulated warm-up (at the first segment's lifetime) before the memory baseline, ms. */
  readonly warmUp?: number
  /** Mean simulated time between bursts of API calls, ms. Default 6 s. */
  readonly meanCallInterval?: number
  /** Configures the emulator before the run (e.g. Apiax's single-use refresh tokens). */
  readonly prepare?: (emulator: Emulator) => void
}

/** What a soak run measured. */
export interface SoakFigures {
  apiCalls: number
  /** Bursts of 1 to 3 concurrent calls. */
  bursts: number
  /** Bursts launched while a token request (usually a background renewal) was in flight. */
  burstsRacingRenewal: number
  /** Token requests that reached the emulator's token endpoint. */
  tokenRequests: number
  tokensIssued: number
  /** API requests the emulator refused because the token had expired (on its own clock). */
  expiredTokenRequests: number
  /** API requests the emulator refused for any token reason (expired, revoked, invalid, missing). */
  rejectedRequests: number
  /** Calls whose final answer (after the client's one retry) was still a rejection. */
  rejectedNotRecovered: number
  /** Calls that threw, or ended with another non-2xx status. */
  failedCalls: number
  /** Apiax: sessions ended because a refresh token was reused (must never happen). */
  sessionsKilled: number
  unhandledRejections: number
  rssBefore: number
  rssAfter: number
  heapBefore: number
  heapAfter: number
}

const MB = 1024 * 1024

function memory(): { rss: number; heap: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc (the vitest config passes it to the workers)')
  gc()
  gc()
  const usage = process.memoryUsage()
  return { rss: usage.rss / MB, heap: usage.heapUsed / MB }
}

/**
 * Runs a soak scenario against an emulator of its own, whose clock is the simulation's.
 *
 * Bursts of one to three concurrent API calls (70 % `fetch()`, 30 % `interceptor()`) arrive on
 * average every `meanCallInterval`. Between bursts, time moves with every timer's work settled
 * (background renewals complete at their due time), except for a last stretch of up to a quarter
 * of the token lifetime that moves without settling: a renewal started there is still in flight
 * when the burst arrives (a race), and the clock has moved on meanwhile (network latency of up to
 * a quarter lifetime, seen by both the client and the emulator).
 */
export async function runSoak(scenario: SoakScenario): Promise<SoakFigures> {
  const warmUp = scenario.warmUp ?? 300_000
  const meanCallInterval = scenario.meanCallInterval ?? 6_000
  const { rig, segments } = scenario
  const random = seededRandom(scenario.seed)
  const first = segments[0]
  if (!first) throw new Error('a soak scenario needs at least one segment')

  const time = new SimulatedTime()
  const emulator = await startEmulator({ now: () => time.now() })
  scenario.prepare?.(emulator)
  emulator.clock.setSkew(scenario.skew)
  rig.setLifetime(emulator, first.lifetime)
  const rigged = rig.createClient(emulator, {
    clock: time.clock,
    transport: time.transport,
    random: seededRandom(scenario.seed ^ 0x5eed),
  })
  const unhandled = trackUnhandledRejections()

  let apiCalls = 0
  let bursts = 0
  let burstsRacingRenewal = 0
  let rejectedNotRecovered = 0
  let failedCalls = 0

  const burst = async () => {
    bursts++
    if (time.inflight > 0) burstsRacingRenewal++
    const size = integerBetween(random, 1, 3)
    const calls: Promise<void>[] = []
    for (let index = 0; index < size; index++) {
      const path: CallPath = random() < 0.7 ? 'fetch' : 'interceptor'
      apiCalls++
      calls.push(
        rigged.call(path).then(
          (status) => {
            if (rig.rejectionStatuses.includes(status)) rejectedNotRecovered++
            else if (status < 200 || status > 299) failedCalls++
          },
          () => {
            failedCalls++
          },
        ),
      )
    }
    await Promise.all(calls)
  }

  const run = async (lifetime: number, duration: number) => {
    const until = time.now() + duration
    for (;;) {
      const gap = between(random, 0.25, 1.75) * meanCallInterval
      const next = time.now() + gap
      if (next > until) break
      const unsettled = Math.min(gap, between(random, 0, lifetime * 250))
      await time.advance(gap - unsettled)
      await time.clock.advance(unsettled)
      await burst()
      await time.settle()
    }
    await time.advance(until - time.now())
  }

  try {
    await run(first.lifetime, warmUp)
    const before = memory()
    emulator.resetCounters()
    apiCalls = bursts = burstsRacingRenewal = rejectedNotRecovered = failedCalls = 0
    for (const segment of segments) {
      rig.setLifetime(emulator, segment.lifetime)
      await run(segment.lifetime, segment.duration)
    }
    const counters = emulator.counters()[rig.vendor]
    const reasons = counters.apiRejectedByReason
    await rigged.close()
    await time.close()
    await drainRejections()
    const after = memory()
    return {
      apiCalls,
      bursts,
      burstsRacingRenewal,
      tokenRequests: counters.tokenRequests,
      tokensIssued: counters.tokensIssued,
      expiredTokenRequests: reasons.expired,
      rejectedRequests: reasons.expired + reasons.revoked + reasons.invalid + reasons.missing,
      rejectedNotRecovered,
      failedCalls,
      sessionsKilled: 'sessionsKilled' in counters ? counters.sessionsKilled : 0,
      unhandledRejections: unhandled.rejections.length,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapBefore: before.heap,
      heapAfter: after.heap,
    }
  } finally {
    unhandled.stop()
    await rigged.close().catch(() => {})
    await time.close().catch(() => {})
    await emulator.stop()
  }
}
