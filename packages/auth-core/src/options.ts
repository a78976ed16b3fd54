import type { Dispatcher } from 'undici'
import { type Clock, MAX_TIMER_DELAY } from './clock.ts'
import { ConfigurationError } from './errors.ts'
import { MAX_LIFETIME_SECONDS } from './expiry.ts'
import type { TokenStore, Transport } from './types.ts'

/** Receives diagnostic messages. Never given a secret. Any subset of the methods will do. */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void
  info?(message: string, fields?: Record<string, unknown>): void
  warn?(message: string, fields?: Record<string, unknown>): void
  error?(message: string, fields?: Record<string, unknown>): void
}

/**
 * Options of {@link createTokenClient}; every vendor factory accepts them too.
 * Token-lifetime durations are in seconds (like `expires_in`), HTTP timeouts in milliseconds.
 */
export interface TokenClientOptions {
  /** Where tokens are kept. Default: a new {@link MemoryTokenStore}. */
  store?: TokenStore
  /** Time source and timers. Default: the system clock. */
  clock?: Clock
  /**
   * Mandatory window in seconds: inside it (or after expiry) callers wait for a new token.
   * Default 30; scaled down to a tenth of the lifetime for short-lived tokens.
   */
  clockTolerance?: number
  /**
   * Advisory window in seconds: inside it the token is renewed in the background while callers
   * keep using it. Default 300, capped at a fifth of the lifetime; a source may widen it.
   */
  refreshWindow?: number
  /** Lifetime in seconds assumed when the vendor states none. Default 300. */
  defaultLifetime?: number
  /** Longest plausible token lifetime in seconds. Default 400 days. */
  maxLifetime?: number
  /** Timeout of one token request in ms. Default 10 000. */
  timeout?: number
  /** Largest token response body in bytes. Default 1 MiB. */
  maxResponseBytes?: number
  /**
   * undici dispatcher for token requests and for `fetch()` (e.g. a `MockAgent` in tests).
   * Default: a private Agent for token requests, the global dispatcher for `fetch()`.
   */
  dispatcher?: Dispatcher
  /** Replaces the HTTP transport used for token requests (the n8n package passes n8n's). */
  transport?: Transport
  /** API origins that may receive the token. Default: the source's origins, if it names any. */
  origins?: string[]
  /** Seconds an error that retrying cannot fix (bad credentials) is remembered. Default 30. */
  negativeCacheTtl?: number
  /** Backoff after failed token requests, in ms: first delay and cap. Default 1 000 and 60 000. */
  backoff?: { initial?: number; max?: number }
  /** Lease settings for shared stores, in ms. Default ttl 30 000, waitTimeout 30 000. */
  lease?: { ttl?: number; waitTimeout?: number }
  /** Diagnostic messages (never secrets). */
  logger?: Logger
  /** Random source in [0, 1) for jitter; inject for deterministic tests. */
  random?: () => number
}

/**
 * Refuses options that would silently break the lifecycle (`NaN` from an unset variable, negative
 * or absurd durations, a store or clock missing its methods) with a {@link ConfigurationError}.
 */
export function validateOptions(options: TokenClientOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('createTokenClient: options must be an object', {
      setting: 'options',
    })
  }
  const durations: Array<[string, unknown, { min: number; max: number }]> = [
    ['clockTolerance', options.clockTolerance, { min: 0, max: MAX_LIFETIME_SECONDS }],
    ['refreshWindow', options.refreshWindow, { min: 0, max: MAX_LIFETIME_SECONDS }],
    ['defaultLifetime', options.defaultLifetime, { min: 1, max: MAX_LIFETIME_SECONDS }],
    ['maxLifetime', options.maxLifetime, { min: 1, max: MAX_LIFETIME_SECONDS * 100 }],
    ['negativeCacheTtl', options.negativeCacheTtl, { min: 0, max: MAX_LIFETIME_SECONDS }],
    ['timeout', options.timeout, { min: 1, max: MAX_TIMER_DELAY - 1 }],
    ['maxResponseBytes', options.maxResponseBytes, { min: 1, max: 2 ** 31 }],
    ['backoff.initial', options.backoff?.initial, { min: 1, max: MAX_TIMER_DELAY - 1 }],
    ['backoff.max', options.backoff?.max, { min: 1, max: MAX_TIMER_DELAY - 1 }],
    ['lease.ttl', options.lease?.ttl, { min: 1, max: MAX_TIMER_DELAY - 1 }],
    ['lease.waitTimeout', options.lease?.waitTimeout, { min: 0, max: MAX_TIMER_DELAY - 1 }],
  ]
  for (const [setting, value, range] of durations) {
    if (value === undefined) continue
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < range.min ||
      value > range.max
    ) {
      throw new ConfigurationError(
        `createTokenClient: ${setting} must be a number from ${range.min} to ${range.max}`,
        { setting },
      )
    }
  }
  if (options.origins !== undefined) {
    if (
      !Array.isArray(options.origins) ||
      options.origins.some((origin) => typeof origin !== 'string')
    ) {
      throw new ConfigurationError('createTokenClient: origins must be a list of URLs', {
        setting: 'origins',
      })
    }
  }
  const store = options.store
  if (
    store !== undefined &&
    (typeof store !== 'object' ||
      store === null ||
      !['get', 'set', 'invalidate', 'delete'].every(
        (method) => typeof (store as unknown as Record<string, unknown>)[method] === 'function',
      ))
  ) {
    throw new ConfigurationError(
      'createTokenClient: store must implement get, set, invalidate and delete',
      { setting: 'store' },
    )
  }
  const clock = options.clock
  if (
    clock !== undefined &&
    (typeof clock?.now !== 'function' || typeof clock?.setTimeout !== 'function')
  ) {
    throw new ConfigurationError('createTokenClient: clock must have now() and setTimeout()', {
      setting: 'clock',
    })
  }
  for (const name of ['transport', 'random'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new ConfigurationError(`createTokenClient: ${name} must be a function`, {
        setting: name,
      })
    }
  }
}
