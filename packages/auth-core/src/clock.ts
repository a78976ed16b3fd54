/** A timer handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  /** Stops the timer. */
  cancel(): void
}

/**
 * Time as the token lifecycle sees it. The default is the system clock; tests and simulations
 * inject a {@link ManualClock} so that hours pass in milliseconds, without sleeps.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  /** Runs `callback` once after `delay` ms. Must not keep the process alive. */
  setTimeout(callback: () => void, delay: number): TimerHandle
}

/** Largest delay Node accepts without firing at once (2^31-1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY = 2 ** 31 - 1

/** The system clock: `Date.now()` and unref'd timers clamped below 2^31-1 ms. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, delay) {
    const timer = setTimeout(callback, clampDelay(delay))
    timer.unref()
    return { cancel: () => clearTimeout(timer) }
  },
}

/** Clamps a delay into [0, 2^31-1). A longer wait is re-armed by the caller when it fires. */
export function clampDelay(delay: number): number {
  if (!Number.isFinite(delay) || delay <= 0) return 0
  return Math.min(delay, MAX_TIMER_DELAY - 1)
}

interface ManualTimer {
  at: number
  seq: number
  callback: () => void
}

/**
 * A clock that moves only when told to. Timers fire, in order, while {@link ManualClock.advance}
 * passes their due time; promise callbacks scheduled by a timer run before the next timer fires.
 *
 * @example
 * const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'))
 * const client = createTokenClient(source, { clock })
 * await clock.advance(55 * 60_000) // background renewal happens here
 */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #timers = new Set<ManualTimer>()

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, delay: number): TimerHandle {
    const timer: ManualTimer = {
      at: this.#now + Math.max(0, delay),
      seq: this.#seq++,
      callback,
    }
    this.#timers.add(timer)
    return { cancel: () => this.#timers.delete(timer) }
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size
  }

  /**
   * Moves time forward by `ms`, firing due timers in order and letting the promise work they
   * start settle (including work that crosses real I/O, e.g. a loopback HTTP request, if
   * `settle` is given) before moving on.
   */
  async advance(ms: number, options: { settle?: () => Promise<void> } = {}): Promise<void> {
    const target = this.#now + ms
    for (;;) {
      const next = this.#nextTimer()
      if (!next || next.at > target) break
      this.#timers.delete(next)
      this.#now = Math.max(this.#now, next.at)
      next.callback()
      await flushMicrotasks()
      if (options.settle) await options.settle()
    }
    this.#now = target
    await flushMicrotasks()
  }

  /** Sets the time without firing timers (for simulating a clock jump). */
  set(now: number): void {
    this.#now = now
  }

  #nextTimer(): ManualTimer | undefined {
    let next: ManualTimer | undefined
    for (const timer of this.#timers) {
      if (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
        next = timer
    }
    return next
  }
}

/** Lets queued promise callbacks run (several turns, for chains of awaits). */
export async function flushMicrotasks(turns = 20): Promise<void> {
  for (let index = 0; index < turns; index++) await Promise.resolve()
}
