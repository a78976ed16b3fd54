/**
 * A small seeded pseudo-random generator (mulberry32). Every random choice of the suite (traffic,
 * jitter, skew) comes from one of these, so a run's simulated figures are the same every time.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** A uniformly drawn number in [low, high). */
export function between(random: () => number, low: number, high: number): number {
  return low + random() * (high - low)
}

/** A uniformly drawn integer in [low, high]. */
export function integerBetween(random: () => number, low: number, high: number): number {
  return Math.floor(between(random, low, high + 1))
}
