import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { basename } from 'node:path'
import { DEFAULT_TIMEOUT, TOKEN_CHANNELS } from '@tokenkeeper/auth-core'
import { trackUnhandledRejections } from '@tokenkeeper/auth-core/testing'
import { type Fault, startEmulator } from '@tokenkeeper/emulator'
import { atMost, type Entry, type Figure, plain, record } from './figures.ts'
import { drainRejections, SimulatedTime } from './harness.ts'
import { seededRandom } from './random.ts'
import type { VendorRig } from './vendors.ts'

/** Lifetime of the tokens in the matrix, seconds. */
const LIFETIME = 60
/** How long the token endpoint misbehaves, simulated ms. */
export const OUTAGE_MS = 300_000
/** One API call every this many simulated ms. */
const CADENCE_MS = 5_000
/** After ten minutes without recovery, calls come once a minute (a daily quota can take a day). */
const SLOW_CADENCE_MS = 60_000
/** Give up waiting for recovery after this long (simulated). */
const RECOVERY_CAP_MS = 26 * 3_600_000
/** The core's documented backoff: first delay and cap, ms; each delay is 0.5 to 1 times base. */
const BACKOFF_INITIAL_MS = 1_000
const BACKOFF_MAX_MS = 60_000
/** Clear's source: at least five minutes between failed token requests. */
const CLEAR_MINIMUM_INTERVAL_MS = 300_000

/** One way the token endpoint misbehaves. */
export interface FaultCase {
  /** Row label. */
  readonly name: string
  /** Id part. */
  readonly key: string
  readonly fault: Fault
  /** Real-time request timeout while the fault is on (for the slow endpoint), ms. */
  readonly timeout?: number
  /** `Retry-After` the endpoint sends, seconds. */
  readonly retryAfter?: number
  /** A 429 without `Retry-After`. */
  readonly rateLimitedBare?: boolean
  /** A 2xx answer without a usable token. */
  readonly unusableSuccess?: boolean
}

/** Every fault of the matrix, for every vendor. */
export const FAULT_CASES: readonly FaultCase[] = [
  {
    // The answer would come after ten minutes of real time: every request the client gives up
    // on is still held when the phase ends and is dropped with its emulator, so it can never
    // issue (and, for Clear, revoke) a token later, whatever the machine's speed.
    name: 'slow: no answer within the client timeout (200 ms)',
    key: 'slow',
    fault: { kind: 'latency', ms: 600_000 },
    timeout: 200,
  },
  {
    name: 'down: 500 with the vendor error body',
    key: '500',
    fault: { kind: 'status', status: 500, body: 'vendor' },
  },
  { name: 'down: 503 HTML gateway page', key: '503', fault: { kind: 'status', status: 503 } },
  {
    name: '429 with Retry-After: 120',
    key: '429-retry-after',
    fault: { kind: 'rate-limit', retryAfter: 120 },
    retryAfter: 120,
  },
  {
    name: '429 without Retry-After',
    key: '429',
    fault: { kind: 'rate-limit' },
    rateLimitedBare: true,
  },
  { name: 'connection reset', key: 'reset', fault: { kind: 'reset' } },
  {
    name: '200 with an HTML page',
    key: 'html',
    fault: { kind: 'body', body: 'html' },
    unusableSuccess: true,
  },
  {
    name: '200 with truncated JSON',
    key: 'truncated-json',
    fault: { kind: 'body', body: 'truncated-json' },
    unusableSuccess: true,
  },
  {
    name: '200 with an empty body',
    key: 'empty',
    fault: { kind: 'body', body: 'empty' },
    unusableSuccess: true,
  },
  {
    name: '200 without the token field',
    key: 'missing-token',
    fault: { kind: 'body', body: 'missing-token' },
    unusableSuccess: true,
  },
  {
    name: '200 with the lifetime as text',
    key: 'expires-in-text',
    fault: { kind: 'body', body: 'expires-in-text' },
    unusableSuccess: true,
  },
  {
    name: '200 with a 6 MiB body',
    key: 'huge',
    fault: { kind: 'body', body: 'huge' },
    unusableSuccess: true,
  },
]

/** Least delay before the `attempt`-th retry (1-based) that the client may choose, ms. */
function leastDelay(rig: VendorRig, fault: FaultCase, attempt: number): number {
  const backoff = 0.5 * Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (attempt - 1))
  const retryAfter = (fault.retryAfter ?? 0) * 1000
  const floor = rig.vendor === 'clear' ? CLEAR_MINIMUM_INTERVAL_MS : 0
  return Math.max(backoff, retryAfter, floor)
}

/**
 * Most token requests a client may send while the endpoint fails for `duration`: one, then one
 * more after each least delay that still fits. Clear's 429 without `Retry-After` waits for the
 * quota's reset at the next UTC midnight, so there is one request at most.
 */
export function requestBound(rig: VendorRig, fault: FaultCase, duration: number): number {
  if (rig.vendor === 'clear' && fault.rateLimitedBare) return 1
  let attempts = 1
  let elapsed = 0
  for (let attempt = 1; ; attempt++) {
    elapsed += leastDelay(rig, fault, attempt)
    if (elapsed > duration) return attempts
    attempts++
  }
}

/**
 * Longest simulated time from the endpoint's return to the next token, s: the longest wait the
 * client may have scheduled (backoff cap, `Retry-After`, Clear's interval, or for Clear's quota
 * the next UTC midnight plus a minute), plus one call interval.
 */
export function recoveryBound(rig: VendorRig, fault: FaultCase, back: number): number {
  let wait = Math.max(BACKOFF_MAX_MS, (fault.retryAfter ?? 0) * 1000)
  if (rig.vendor === 'clear') {
    wait = Math.max(wait, CLEAR_MINIMUM_INTERVAL_MS)
    if (fault.rateLimitedBare) {
      const midnight = Math.ceil(back / 86_400_000) * 86_400_000
      wait = midnight + 60_000 - back + SLOW_CADENCE_MS
    }
  }
  return (wait + CADENCE_MS) / 1000
}

interface PhaseFigures {
  /** Calls that failed from the fault's start to the recovery. */
  failed: number
  /** Of those, calls made while the token obtained before the fault was still valid. */
  failedWhileValid: number
  /** Token requests the endpoint received during the outage. */
  requests: number
  requestBound: number
  /** Simulated seconds from the endpoint's return to the next token, or infinity. */
  recovery: number
  recoveryBound: number
  /** Whether a call after the recovery succeeded. */
  healthyAfter: boolean
  unhandled: number
}

/**
 * One phase against an emulator of its own: requests a slow endpoint still holds when the phase
 * ends are dropped with it, so they cannot issue (and, for Clear, revoke) a token in the next.
 */
async function runPhase(
  rig: VendorRig,
  fault: FaultCase,
  withToken: boolean,
  seed: number,
): Promise<PhaseFigures> {
  const time = new SimulatedTime()
  const emulator = await startEmulator({ now: () => time.now() })
  rig.setLifetime(emulator, LIFETIME)
  const rigged = rig.createClient(emulator, {
    clock: time.clock,
    transport: time.transport,
    random: seededRandom(seed),
  })
  const unhandled = trackUnhandledRejections()
  const issued: number[] = []
  const onIssued = () => {
    issued.push(time.now())
  }
  subscribe(TOKEN_CHANNELS.issued, onIssued)
  subscribe(TOKEN_CHANNELS.renewed, onIssued)

  let failed = 0
  let failedWhileValid = 0
  let validUntil = Number.NEGATIVE_INFINITY
  const call = async (): Promise<boolean> => {
    const ok = await rigged.call('fetch').then(
      (status) => status >= 200 && status <= 299,
      () => false,
    )
    if (!ok) {
      failed++
      if (time.now() < validUntil) failedWhileValid++
    }
    return ok
  }

  try {
    if (withToken) {
      const token = await rigged.client.getToken()
      validUntil = token.expiresAt ?? Number.POSITIVE_INFINITY
      await time.advance(1_000)
    }
    const start = time.now()
    const back = start + OUTAGE_MS
    const before = emulator.counters()[rig.vendor].tokenRequests
    emulator.faults.set(`${rig.vendor}.token`, fault.fault)
    if (fault.timeout !== undefined) time.timeout = fault.timeout
    while (time.now() + CADENCE_MS <= back) {
      await time.advance(CADENCE_MS)
      await call()
    }
    await time.advance(back - time.now())
    const requests = emulator.counters()[rig.vendor].tokenRequests - before
    emulator.faults.clear()
    time.timeout = DEFAULT_TIMEOUT

    const issuedBefore = issued.length
    while (issued.length === issuedBefore && time.now() - back < RECOVERY_CAP_MS) {
      await time.advance(time.now() - back < 600_000 ? CADENCE_MS : SLOW_CADENCE_MS)
      await call()
    }
    const recoveredAt = issued[issuedBefore]
    const recovery =
      recoveredAt === undefined ? Number.POSITIVE_INFINITY : (recoveredAt - back) / 1000
    await time.advance(CADENCE_MS)
    const healthyAfter = await call()
    await rigged.close()
    await time.settle()
    await drainRejections()
    return {
      failed,
      failedWhileValid,
      requests,
      requestBound: requestBound(rig, fault, OUTAGE_MS),
      recovery,
      recoveryBound: recoveryBound(rig, fault, back),
      healthyAfter,
      unhandled: unhandled.rejections.length,
    }
  } finally {
    unsubscribe(TOKEN_CHANNELS.issued, onIssued)
    unsubscribe(TOKEN_CHANNELS.renewed, onIssued)
    unhandled.stop()
    await rigged.close().catch(() => {})
    await time.close()
    await emulator.stop()
  }
}

/**
 * Whether calls may fail while the token obtained before the fault is still valid. Only for
 * Clear after a 2xx answer it cannot use: that answer may have been a reissue, which revokes
 * the current token, so the client stops using it (lifecycle rule 6).
 */
function mayFailWhileValid(rig: VendorRig, fault: FaultCase): boolean {
  return rig.vendor === 'clear' && fault.unusableSuccess === true
}

const seconds = (value: number) =>
  Number.isFinite(value) ? Math.round(value * 10) / 10 : Number.POSITIVE_INFINITY

function recoveryFigure(phase: PhaseFigures): Figure {
  const value = seconds(phase.recovery)
  const ok = Number.isFinite(value) && value <= phase.recoveryBound && phase.healthyAfter
  return {
    value: Number.isFinite(value) ? value : 'never',
    goal: `≤ ${phase.recoveryBound}`,
    met: ok,
  }
}

/** Runs one cell of the matrix (both phases), records its row and returns its cells. */
export async function faultCell(
  rig: VendorRig,
  fault: FaultCase,
  file: string,
  seed: number,
): Promise<Record<string, Figure>> {
  const valid = await runPhase(rig, fault, true, seed)
  const none = await runPhase(rig, fault, false, seed + 1)
  const allowedEarly = mayFailWhileValid(rig, fault)
  const figures: Record<string, Figure> = {
    validFailed: {
      value: `${valid.failed} (${valid.failedWhileValid} while valid)`,
      met: allowedEarly || valid.failedWhileValid === 0,
    },
    validRequests: atMost(valid.requests, valid.requestBound),
    validRecovery: recoveryFigure(valid),
    noneFailed: plain(none.failed),
    noneRequests: atMost(none.requests, none.requestBound),
    noneRecovery: recoveryFigure(none),
    unhandled: atMost(valid.unhandled + none.unhandled, 0),
  }
  const entry: Entry = {
    id: `faults/${rig.vendor}/${fault.key}`,
    section: 'faults',
    group: rig.packageName,
    title: fault.name,
    figures,
    file: basename(new URL(file).pathname),
  }
  record(entry)
  return figures
}
