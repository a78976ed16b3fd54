import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { TOKEN_CHANNELS, type TokenEvent } from '@tokenkeeper/auth-core'

/** The name of a token event (a key of `TOKEN_CHANNELS`). */
export type TokenEventName = keyof typeof TOKEN_CHANNELS

/** A token event as recorded, with the (simulated) time it was published at. */
export interface RecordedEvent extends TokenEvent {
  readonly name: TokenEventName
  readonly at: number
}

interface Waiter {
  readonly key: string
  readonly names: readonly TokenEventName[]
  resolve(event: RecordedEvent): void
}

/**
 * Records the core's token events (`node:diagnostics_channel`), so that a command can tell
 * whether it made a token request, and the demo can count token requests per cache key and
 * wait for a renewal to finish instead of sleeping. Events carry no secrets.
 */
export class TokenEventLog {
  readonly #now: () => number
  readonly #events: RecordedEvent[] = []
  readonly #waiters = new Set<Waiter>()
  readonly #handlers: [string, (message: unknown) => void][] = []

  constructor(now: () => number) {
    this.#now = now
    for (const [name, channel] of Object.entries(TOKEN_CHANNELS) as [TokenEventName, string][]) {
      const handler = (message: unknown) => this.#record(name, message as TokenEvent)
      subscribe(channel, handler)
      this.#handlers.push([channel, handler])
    }
  }

  /** How many events of this kind were seen for a cache key. */
  count(key: string, name: TokenEventName): number {
    return this.#events.filter((event) => event.key === key && event.name === name).length
  }

  /** The events of a cache key since index `from` (see {@link TokenEventLog.size}). */
  since(key: string, from: number): RecordedEvent[] {
    return this.#events.slice(from).filter((event) => event.key === key)
  }

  /** Number of events recorded so far (a bookmark for {@link TokenEventLog.since}). */
  get size(): number {
    return this.#events.length
  }

  /**
   * The next event of one of `names` for `key`, published after this call. Rejects after
   * `timeout` ms of real time (generous: it is a safety net, not a timing assumption).
   */
  next(key: string, names: readonly TokenEventName[], timeout = 20_000): Promise<RecordedEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        reject(new Error(`no ${names.join(' or ')} event within ${timeout / 1000} s`))
      }, timeout)
      timer.unref()
      const waiter: Waiter = {
        key,
        names,
        resolve: (event) => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve(event)
        },
      }
      this.#waiters.add(waiter)
    })
  }

  close(): void {
    for (const [channel, handler] of this.#handlers) unsubscribe(channel, handler)
    this.#handlers.length = 0
  }

  #record(name: TokenEventName, message: TokenEvent): void {
    const event: RecordedEvent = { ...message, name, at: this.#now() }
    this.#events.push(event)
    for (const waiter of [...this.#waiters]) {
      if (waiter.key === event.key && waiter.names.includes(name)) waiter.resolve(event)
    }
  }
}
