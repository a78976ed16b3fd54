import { type Clock, systemClock } from './clock.ts'
import { TokenTimeoutError } from './errors.ts'
import type { LeaseOptions, StoredToken, StoreSetOptions, TokenLease, TokenStore } from './types.ts'

/** Options of {@link MemoryTokenStore}. */
export interface MemoryTokenStoreOptions {
  /** Most entries kept; the least recently used goes first. Default 1000. */
  maxEntries?: number
  /** Clock used to drop entries whose token and state have both expired. */
  clock?: Clock
}

interface Waiter {
  resolve: (lease: TokenLease | null) => void
}

/**
 * The default store: a bounded LRU map in this process. Several clients that share one instance
 * also share its lease, so they cause one token request per key between them.
 */
export class MemoryTokenStore implements TokenStore {
  readonly shared = false
  readonly #entries = new Map<string, StoredToken>()
  readonly #leases = new Map<string, Waiter[]>()
  readonly #watchers = new Map<string, Set<() => void>>()
  readonly #maxEntries: number
  readonly #clock: Clock
  /** The key at the end of the LRU order, so the hot path skips reordering. */
  #mostRecent: string | undefined

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.#maxEntries = Math.max(1, options.maxEntries ?? 1000)
    this.#clock = options.clock ?? systemClock
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size
  }

  get(key: string): StoredToken | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (isSpent(entry, this.#clock.now())) {
      this.delete(key)
      return undefined
    }
    // LRU: move to the end, unless it is there already (the common, hot case).
    if (this.#mostRecent !== key) {
      this.#entries.delete(key)
      this.#entries.set(key, entry)
      this.#mostRecent = key
    }
    return entry
  }

  set(key: string, entry: StoredToken, options: StoreSetOptions = {}): boolean {
    const current = this.#entries.get(key)
    if (
      options.expectedValue !== undefined &&
      current !== undefined &&
      current.value !== options.expectedValue
    ) {
      return false
    }
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    this.#mostRecent = key
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
      this.#notify(oldest)
    }
    this.#notify(key)
    return true
  }

  invalidate(key: string, value: string): boolean {
    const current = this.#entries.get(key)
    if (current === undefined || current.value !== value || current.rejected) return false
    this.#entries.set(key, { ...current, rejected: true })
    this.#notify(key)
    return true
  }

  delete(key: string): void {
    const existed = this.#entries.delete(key)
    if (this.#mostRecent === key) this.#mostRecent = undefined
    if (existed) this.#notify(key)
  }

  watch(key: string, listener: () => void): () => void {
    let listeners = this.#watchers.get(key)
    if (listeners === undefined) {
      listeners = new Set()
      this.#watchers.set(key, listeners)
    }
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0 && this.#watchers.get(key) === listeners) this.#watchers.delete(key)
    }
  }

  #notify(key: string): void {
    const listeners = this.#watchers.get(key)
    if (listeners === undefined) return
    for (const listener of listeners) listener()
  }

  lease(key: string, options: LeaseOptions): Promise<TokenLease | null> {
    const waiters = this.#leases.get(key)
    if (waiters === undefined) {
      this.#leases.set(key, [])
      return Promise.resolve(this.#holderLease(key))
    }
    return new Promise<TokenLease | null>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (lease) => {
          cleanup()
          resolve(lease)
        },
      }
      const fail = (error: unknown) => {
        const list = this.#leases.get(key)
        if (list) list.splice(list.indexOf(waiter), 1)
        cleanup()
        reject(error)
      }
      const timer = this.#clock.setTimeout(
        () =>
          fail(new TokenTimeoutError(`Timed out waiting for another token request on this key`)),
        options.waitTimeout,
      )
      const onAbort = () => fail(options.signal?.reason)
      const cleanup = () => {
        timer.cancel()
        options.signal?.removeEventListener('abort', onAbort)
      }
      if (options.signal?.aborted) return fail(options.signal.reason)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      waiters.push(waiter)
    })
  }

  #holderLease(key: string): TokenLease {
    let released = false
    return {
      release: async () => {
        if (released) return
        released = true
        const waiters = this.#leases.get(key) ?? []
        this.#leases.delete(key)
        // Everyone who waited re-reads the store; the holder's token is there.
        for (const waiter of waiters) waiter.resolve(null)
      },
    }
  }
}

/** True when neither the token nor its state is of any use any more. */
export function isSpent(entry: StoredToken, now: number): boolean {
  const tokenUseful = !entry.rejected && (entry.expiresAt === null || entry.expiresAt > now)
  const stateUseful =
    entry.state !== undefined && (entry.stateExpiresAt == null || entry.stateExpiresAt > now)
  return !tokenUseful && !stateUseful
}
