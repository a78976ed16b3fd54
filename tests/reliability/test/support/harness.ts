import { performance } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'
import {
  createUndiciTransport,
  DEFAULT_TIMEOUT,
  ManualClock,
  type Transport,
} from '@tokenkeeper/auth-core'

/** 2026-01-01T00:00:00Z, where every simulation starts (a UTC midnight, on a whole second). */
export const START = Date.parse('2026-01-01T00:00:00Z')

/** Real time after which a simulation step that never settles counts as a hang. */
const HANG_AFTER_MS = 30_000

/**
 * Simulated time over real loopback HTTP. The client and the emulator read the same
 * {@link ManualClock}; token requests go through the core's own undici transport, wrapped only
 * to count the requests in flight (so a step can wait until the real I/O it started is done
 * before time moves on) and to change its timeout while a test makes the endpoint slow (so
 * healthy requests keep the default timeout on a loaded machine).
 */
export class SimulatedTime {
  readonly clock: ManualClock
  /** One undici transport per timeout in use, created on first use. */
  readonly #owned = new Map<number, ReturnType<typeof createUndiciTransport>>()
  /** Timeout of the token requests sent from now on, ms (real time). */
  timeout: number
  #inflight = 0
  /** Token requests sent through {@link transport} (the client's view; the emulator counts too). */
  tokenRequestsSent = 0

  constructor(options: { start?: number; timeout?: number } = {}) {
    this.clock = new ManualClock(options.start ?? START)
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT
  }

  #transportFor(timeout: number): ReturnType<typeof createUndiciTransport> {
    let owned = this.#owned.get(timeout)
    if (!owned) {
      owned = createUndiciTransport({ timeout })
      this.#owned.set(timeout, owned)
    }
    return owned
  }

  /** The transport to give the client: the core's undici transport, counted. */
  readonly transport: Transport = async (request) => {
    this.#inflight++
    this.tokenRequestsSent++
    try {
      return await this.#transportFor(this.timeout).transport(request)
    } finally {
      this.#inflight--
    }
  }

  /** Token requests in flight right now. */
  get inflight(): number {
    return this.#inflight
  }

  now(): number {
    return this.clock.now()
  }

  /**
   * Waits until no token request is in flight and the event loop has turned a few times with
   * none (follow-up requests, e.g. a refresh that falls back to a login, start in between).
   */
  async settle(): Promise<void> {
    const deadline = performance.now() + HANG_AFTER_MS
    let quiet = 0
    while (quiet < 3) {
      await nextTurn()
      quiet = this.#inflight === 0 ? quiet + 1 : 0
      if (performance.now() > deadline) {
        throw new Error(`a token request did not finish within ${HANG_AFTER_MS} ms of real time`)
      }
    }
  }

  /** Moves time and lets whatever the timers started finish before returning. */
  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms, { settle: () => this.settle() })
    await this.settle()
  }

  async close(): Promise<void> {
    await Promise.all([...this.#owned.values()].map((owned) => owned.close()))
    this.#owned.clear()
  }
}

/** Lets pending unhandled-rejection checks run (Node reports them after a macrotask). */
export async function drainRejections(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await nextTurn()
}
