import { clampDelay, type Logger, StoreError, TokenKeeperError } from '@tokenkeeper/auth-core'
import type { Redis } from 'ioredis'

/** Errors meaning "Redis cannot be reached right now" (the only ones the memory fallback covers). */
const unavailableErrors = new WeakSet<object>()

/** True for a {@link StoreError} raised because Redis could not be reached or did not answer. */
export function isUnavailable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && unavailableErrors.has(error)
}

/** The error every call on a closed store gets. */
export function closedError(): TokenKeeperError {
  return new TokenKeeperError('CLIENT_CLOSED', 'The Redis token store is closed')
}

/** Settings of a {@link Connection}, in ms. */
export interface ConnectionSettings {
  readonly connectTimeout: number
  readonly commandTimeout: number
  readonly logger: Logger | undefined
}

interface ReadyWaiter {
  resolve(): void
  reject(error: unknown): void
}

/**
 * One ioredis connection used for commands. Every call is bounded: it waits for the connection
 * at most `connectTimeout` (first connection) or `commandTimeout` (after a loss), fails at once
 * while an outage is known (a connection attempt failed and none succeeded since), and waits at
 * most `commandTimeout` for the answer. Errors
 * leave as {@link StoreError}s whose messages and causes hold no command arguments (ioredis
 * errors carry them, and ours would include tokens).
 */
export class Connection {
  readonly client: Redis
  readonly label: string
  readonly #owned: boolean
  readonly #settings: ConnectionSettings
  readonly #waiters = new Set<ReadyWaiter>()
  #closed = false
  #everReady = false
  #lastError: string | undefined
  /** Whether a loss was reported, so an outage is logged once, not once per retry. */
  #lossReported = false

  constructor(client: Redis, owned: boolean, settings: ConnectionSettings) {
    this.client = client
    this.#owned = owned
    this.#settings = settings
    this.label = describeServer(client)
    if (client.status === 'ready') this.#everReady = true
    client.on('ready', this.#onReady)
    client.on('error', this.#onError)
    client.on('end', this.#onEnd)
  }

  /** True while the connection can take commands. */
  get isReady(): boolean {
    return !this.#closed && this.client.status === 'ready'
  }

  /** Connects in the background if nobody has asked for a connection yet. */
  start(): void {
    if (this.client.status === 'wait') this.client.connect().catch(() => {})
  }

  /** Runs one operation (a few commands at most) within the bounds described above. */
  async run<T>(operation: string, command: (client: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError()
    if (this.client.status !== 'ready') await this.#whenReady()
    let timer: NodeJS.Timeout | undefined
    try {
      return await new Promise<T>((resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(
              this.#unavailable(
                `Redis at ${this.label} did not answer ${operation} within ${this.#settings.commandTimeout} ms`,
              ),
            ),
          clampDelay(this.#settings.commandTimeout),
        )
        timer.unref()
        command(this.client).then(resolve, reject)
      })
    } catch (error) {
      throw this.#wrap(operation, error)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Stops the connection (if this store created it) and fails waiting calls. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const waiter of this.#waiters) waiter.reject(closedError())
    this.#waiters.clear()
    if (this.#owned) await quit(this.client, this.#settings.commandTimeout)
    this.client.off('ready', this.#onReady)
    this.client.off('end', this.#onEnd)
    // A connection this store created keeps its 'error' listener: ioredis may still report a
    // late error (a timed-out ready check) and would print it as unhandled.
    if (!this.#owned) this.client.off('error', this.#onError)
  }

  #whenReady(): Promise<void> {
    if (this.client.status === 'end') {
      return Promise.reject(this.#unavailable(`The connection to Redis at ${this.label} has ended`))
    }
    // A known outage (a connection attempt failed since the last success) answers at once:
    // callers should not each wait out a timeout while ioredis keeps retrying in the background.
    if (this.#lossReported && this.#lastError !== undefined) {
      return Promise.reject(
        this.#unavailable(`Redis at ${this.label} is unavailable: ${this.#lastError}`),
      )
    }
    this.start()
    const timeout = this.#everReady ? this.#settings.commandTimeout : this.#settings.connectTimeout
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          waiter.reject(
            this.#unavailable(
              `Redis at ${this.label} is unavailable: not connected within ${timeout} ms${this.#lastError ? ` (last error: ${this.#lastError})` : ''}`,
            ),
          ),
        clampDelay(timeout),
      )
      timer.unref()
      const waiter: ReadyWaiter = {
        resolve: () => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve()
        },
        reject: (error) => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          reject(error)
        },
      }
      this.#waiters.add(waiter)
    })
  }

  readonly #onReady = () => {
    this.#everReady = true
    this.#lastError = undefined
    if (this.#lossReported) {
      this.#lossReported = false
      this.#log('info', `Reconnected to Redis at ${this.label}`)
    }
    for (const waiter of [...this.#waiters]) waiter.resolve()
  }

  readonly #onError = (error: unknown) => {
    this.#lastError = describeCause(error)
    if (this.#closed) return
    if (!this.#lossReported) {
      this.#lossReported = true
      this.#log(
        'warn',
        `Redis at ${this.label} is unavailable; token operations fail until it is back`,
        {
          error: this.#lastError,
        },
      )
    }
    // A failed connection attempt answers everyone waiting for it at once, rather than at the timeout.
    const failure = this.#unavailable(`Redis at ${this.label} is unavailable: ${this.#lastError}`)
    for (const waiter of [...this.#waiters]) waiter.reject(failure)
  }

  readonly #onEnd = () => {
    const failure = this.#unavailable(`The connection to Redis at ${this.label} has ended`)
    for (const waiter of [...this.#waiters]) waiter.reject(failure)
  }

  #wrap(operation: string, error: unknown): unknown {
    if (TokenKeeperError.is(error)) return error
    const cause = sanitisedCause(error)
    if (error instanceof Error && error.name === 'ReplyError') {
      // Redis answered with an error (wrong type, no permission, read-only replica...): it is
      // reachable, so this is not an outage and no fallback applies.
      return new StoreError(`Redis at ${this.label} refused ${operation}: ${cause.message}`, {
        retryable: false,
        cause,
      })
    }
    return this.#unavailable(`Redis at ${this.label} failed ${operation}: ${cause.message}`, cause)
  }

  #unavailable(message: string, cause?: Error): StoreError {
    const error = new StoreError(message, cause ? { cause } : {})
    unavailableErrors.add(error)
    return error
  }

  #log(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void {
    try {
      this.#settings.logger?.[level]?.(message, { store: 'redis', ...fields })
    } catch {
      // A failing logger must not break token handling.
    }
  }
}

/** `host:port` (or the socket path) of a client, never its credentials. */
function describeServer(client: Redis): string {
  const options = client.options
  if (options.path) return options.path
  return `${options.host ?? 'localhost'}:${options.port ?? 6379}`
}

/** A short description of an ioredis error: name, code and message, nothing else. */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error'
  const code = (error as { code?: unknown }).code
  const message = error.message.length > 200 ? `${error.message.slice(0, 200)}...` : error.message
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message
}

/** A plain Error standing in for an ioredis error, which carries the command and its arguments. */
function sanitisedCause(error: unknown): Error {
  const cause = new Error(describeCause(error))
  cause.name = error instanceof Error ? error.name : 'Error'
  return cause
}

async function quit(client: Redis, timeout: number): Promise<void> {
  if (client.status === 'end') return
  if (client.status !== 'ready') {
    client.disconnect()
    return
  }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      client.quit(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, clampDelay(timeout))
        timer.unref()
      }),
    ])
  } catch {
    // Closing anyway.
  } finally {
    clearTimeout(timer)
    if ((client.status as string) !== 'end') client.disconnect()
  }
}
