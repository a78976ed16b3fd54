import { EmulatorError } from './errors.ts'
import type { EmulatorClock } from './types.ts'

/** Creates the emulator clock over a base time source. */
export function createClock(base: () => number = Date.now): EmulatorClock {
  let advanced = 0
  let skew = 0
  const finite = (ms: number, name: string): number => {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new EmulatorError('INVALID_OPTION', `${name} must be a finite number of milliseconds`)
    }
    return ms
  }
  return {
    now: () => base() + advanced + skew,
    advance(ms) {
      advanced += finite(ms, 'clock.advance(ms)')
    },
    setSkew(ms) {
      skew = finite(ms, 'clock.setSkew(ms)')
    },
    get advanced() {
      return advanced
    },
    get skew() {
      return skew
    },
  }
}

/** Whole seconds since the epoch, as JWT claims use. */
export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000)
}
