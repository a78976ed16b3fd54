import type { Dispatcher } from 'undici'
import { type AccessToken, createAccessToken, tokenId } from './access-token.ts'
import { authenticatedFetch, type FetchInit } from './authenticated-fetch.ts'
import { type Clock, clampDelay, systemClock, type TimerHandle } from './clock.ts'
import {
  ConfigurationError,
  InvalidTokenResponseError,
  TokenKeeperError,
  TokenTimeoutError,
} from './errors.ts'
import { publish, type TokenEvent } from './events.ts'
import { computeExpiry, type Exchange } from './expiry.ts'
import { type AuthInterceptorOptions, createAuthInterceptor } from './interceptor.ts'
import { MemoryTokenStore } from './memory-store.ts'
import { type Logger, type TokenClientOptions, validateOptions } from './options.ts'
import { normaliseOrigins, type OriginPolicy } from './origins.ts'
import { createUndiciTransport, guardTransport } from './transport.ts'
import type {
  IssuedToken,
  StoredToken,
  TokenRequestReason,
  TokenSource,
  TokenStore,
  Transport,
} from './types.ts'
import { DEFAULT_REJECTION_GRACE, type RenewalWindows, renewalWindows } from './windows.ts'

/** Options of {@link TokenClient.getToken}. */
export interface GetTokenOptions {
  /** Cancels this caller's wait only; a shared token request continues for the others. */
  signal?: AbortSignal
  /**
   * Ignore the cached token and request a new one (still one request for concurrent callers).
   * If that request fails, the call fails too (the current token is not served instead).
   */
  forceRefresh?: boolean
}

/** Obtains, caches and renews the tokens of one {@link TokenSource}. */
export interface TokenClient {
  /** A valid token: cached, or requested (once for all concurrent callers). */
  getToken(options?: GetTokenOptions): Promise<AccessToken>
  /** The headers that present a valid token to the vendor's APIs. */
  getAuthHeaders(options?: { signal?: AbortSignal }): Promise<Record<string, string>>
  /**
   * Compare-and-invalidate: drops `token` if it is still the current one (an API rejected it).
   * Returns true if it was current. A later `getToken()` then renews once.
   */
  invalidate(token: AccessToken | string): boolean
  /**
   * undici `fetch` with the auth headers attached; on a rejection status (401, plus any the
   * source adds) it invalidates the token and retries once with the current one, when the body
   * can be replayed. Redirects are not followed.
   */
  fetch(input: string | URL, init?: FetchInit): Promise<Response>
  /**
   * An undici interceptor that attaches the auth headers to requests for the allowed origins.
   * The origins are resolved when it is created, so a source configured from the environment
   * reports a missing setting here rather than on the first request.
   */
  interceptor(options?: AuthInterceptorOptions): Dispatcher.DispatcherComposeInterceptor
  /** Stops timers and in-flight work. Later calls fail with `CLIENT_CLOSED`. */
  close(): Promise<void>
}

interface Current {
  readonly entry: StoredToken
  readonly token: AccessToken
  /** `Promise.resolve(token)`, made once: the hot path hands out this same settled promise. */
  readonly promise: Promise<AccessToken>
  readonly headers: Record<string, string>
  /** From here on callers wait for a new token. */
  readonly mandatoryAt: number
  /** From here on the token is renewed in the background. */
  readonly renewAt: number
  /** Issued to replace a token an API rejected. */
  readonly replacedRejected?: boolean
}

interface Failure {
  readonly error: TokenKeeperError
  /** No new attempt before this time. */
  readonly retryAt: number
}

const DEFAULTS = {
  defaultLifetime: 300,
  negativeCacheTtl: 30,
  backoffInitial: 1_000,
  backoffMax: 60_000,
  leaseTtl: 30_000,
  leaseWaitTimeout: 30_000,
}

/** Printable ASCII without spaces: what can safely go into an HTTP header. */
const HEADER_SAFE = /^[\x21-\x7e]+$/
const noop = () => {}

/**
 * Creates a {@link TokenClient} for a token source.
 *
 * @example
 * const client = createTokenClient(mySource, { clockTolerance: 30 })
 * const response = await client.fetch('https://api.example.com/things')
 */
export function createTokenClient(
  source: TokenSource,
  options: TokenClientOptions = {},
): TokenClient {
  return new DefaultTokenClient(source, options)
}

class DefaultTokenClient implements TokenClient {
  readonly #source: TokenSource
  readonly #options: TokenClientOptions
  readonly #store: TokenStore
  readonly #clock: Clock
  readonly #random: () => number
  readonly #transport: Transport
  readonly #closeTransport: () => Promise<void>
  readonly #abort = new AbortController()
  readonly #rejectionStatuses: readonly number[]
  /** Recently rejected values, so an async store that has not caught up is not believed. */
  readonly #rejectedValues = new Set<string>()

  #key: string | undefined
  #current: Current | undefined
  #inflight: Promise<Current> | undefined
  #failure: Failure | undefined
  #attempts = 0
  #timer: TimerHandle | undefined
  /** When the armed timer fires (infinity when none is armed). */
  #timerAt = Number.POSITIVE_INFINITY
  #closed = false
  /**
   * The current token while it needs no attention (before its renewal time and its mandatory
   * window). Cleared by the timer armed for that moment, by `invalidate()`, and by the store's
   * change notifications, so the hot path reads no clock. Only used with stores that can notify.
   */
  #fresh: Current | undefined
  /** Every 64th hot-path call still reads the clock, in case timers run late (busy event loop). */
  #calls = 0
  #unwatch: (() => void) | undefined
  /** API origins allowed to receive the token, resolved on first use. */
  #originPolicy: OriginPolicy | undefined
  #watching = false
  /** The current token was rejected by an API and nothing has replaced it yet. */
  #currentRejected = false

  constructor(source: TokenSource, options: TokenClientOptions) {
    validateOptions(options)
    this.#source = source
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.#store = options.store ?? new MemoryTokenStore({ clock: this.#clock })
    this.#random = options.random ?? Math.random
    this.#rejectionStatuses = source.rejectionStatuses ?? [401]
    if (options.transport) {
      this.#transport = options.transport
      this.#closeTransport = async () => {}
    } else {
      const owned = createUndiciTransport({
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
        ...(options.maxResponseBytes !== undefined
          ? { maxResponseBytes: options.maxResponseBytes }
          : {}),
      })
      this.#transport = owned.transport
      this.#closeTransport = owned.close
    }
  }

  // -- public API ------------------------------------------------------------------------------

  getToken(options?: GetTokenOptions): Promise<AccessToken> {
    if (options === undefined || options.forceRefresh !== true) {
      const fresh = this.#fresh
      if (fresh !== undefined && (++this.#calls & 63) !== 0) return fresh.promise
      if (this.#closed) return Promise.reject(closedError())
      try {
        const current = this.#peek()
        if (current) return current.promise
      } catch (error) {
        return Promise.reject(error)
      }
    } else if (this.#closed) {
      return Promise.reject(closedError())
    }
    return this.#getTokenSlow(options)
  }

  async getAuthHeaders(options?: { signal?: AbortSignal }): Promise<Record<string, string>> {
    if (!this.#closed) {
      const current = this.#fresh ?? this.#peek()
      if (current) return { ...current.headers }
    }
    const token = await this.getToken(options)
    return this.#source.authHeaders(token)
  }

  invalidate(token: AccessToken | string): boolean {
    const value = typeof token === 'string' ? token : token.value
    const current = this.#current
    const wasCurrent = current !== undefined && current.token.value === value
    if (wasCurrent && this.#keepDespiteRejection(current)) {
      // Rejected moments after it was issued (within the source's rejectionGrace, or a token that
      // itself replaced a rejected one): the API refuses this credential (scope, product,
      // permission), not this token. Renewing would cost a token per API call; keep it.
      this.#publish('invalidated', {
        reason: 'kept-rejected-fresh-token',
        tokenId: current.token.id,
      })
      this.#log(
        'warn',
        `${this.#source.vendor}: a freshly issued token was rejected; not renewing it before it is due (check the credential's scope and permissions)`,
      )
      return false
    }
    this.#rememberRejected(value)
    this.#fresh = undefined
    if (wasCurrent) {
      this.#current = undefined
      this.#currentRejected = true
      this.#cancelTimer()
    }
    let key: string
    try {
      key = this.#cacheKey()
    } catch {
      return false
    }
    try {
      const result = this.#store.invalidate(key, value)
      if (result instanceof Promise) {
        result.catch((error: unknown) =>
          this.#log('warn', 'Could not mark the rejected token in the store', {
            key,
            error: describeError(error),
          }),
        )
      }
    } catch (error) {
      this.#log('warn', 'Could not mark the rejected token in the store', {
        key,
        error: describeError(error),
      })
    }
    this.#publish('invalidated', {
      reason: wasCurrent ? 'rejected' : 'already-replaced',
      tokenId: tokenId(value),
    })
    return wasCurrent
  }

  async fetch(input: string | URL, init?: FetchInit): Promise<Response> {
    return authenticatedFetch(this.#httpContext(), input, init)
  }

  interceptor(options: AuthInterceptorOptions = {}): Dispatcher.DispatcherComposeInterceptor {
    return createAuthInterceptor(this.#httpContext(), options)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#fresh = undefined
    this.#unwatch?.()
    this.#cancelTimer()
    this.#abort.abort(closedError())
    await this.#inflight?.catch(noop)
    await this.#closeTransport()
  }

  // -- the lifecycle ---------------------------------------------------------------------------

  /** Synchronous fast path: a current token outside the mandatory window, or `undefined`. */
  #peek(): Current | undefined {
    const key = this.#cacheKey()
    if (!this.#watching) this.#watch(key)
    const stored = this.#store.get(key)
    if (stored instanceof Promise) {
      stored.catch(noop)
      return undefined
    }
    const current = this.#adopt(stored)
    if (current === undefined) return undefined
    const now = this.#clock.now()
    if (now >= current.mandatoryAt) return undefined
    if (now >= current.renewAt) this.#renewInBackground()
    else if (
      this.#unwatch !== undefined &&
      current === this.#current &&
      this.#timerAt <= current.renewAt
    ) {
      this.#fresh = current
    }
    return current
  }

  /** Subscribes to the store's change notifications for our key, if it offers them. */
  #watch(key: string): void {
    this.#watching = true
    if (!this.#store.watch) return
    this.#unwatch = this.#store.watch(key, () => {
      this.#fresh = undefined
    })
  }

  async #getTokenSlow(options: GetTokenOptions | undefined): Promise<AccessToken> {
    const key = this.#cacheKey()
    let stored: StoredToken | undefined
    try {
      stored = await this.#readStore(key)
    } catch (error) {
      // A shared store that is down cannot vouch for anything, but the token this process holds
      // is still valid; nobody else can issue meanwhile (issuing needs the store's lease).
      const current = this.#current
      if (
        TokenKeeperError.is(error) &&
        error.code === 'STORE_UNAVAILABLE' &&
        current !== undefined &&
        !this.#closed &&
        this.#clock.now() < current.mandatoryAt
      ) {
        return this.#serveStale(current, error, 'store-unavailable')
      }
      throw error
    }
    if (this.#closed) throw closedError()
    const forced = options?.forceRefresh === true
    const current = this.#adopt(stored)
    const now = this.#clock.now()
    if (!forced && current && now < current.mandatoryAt) return current.token

    const valid =
      current && (current.entry.expiresAt === null || now < current.entry.expiresAt)
        ? current
        : undefined
    const failure = this.#failure
    if (failure && now < failure.retryAt && !this.#inflight) {
      if (valid) return this.#serveStale(valid, failure.error)
      throw failure.error
    }
    const reason: TokenRequestReason = forced
      ? 'forced'
      : this.#currentRejected ||
          stored?.rejected ||
          (stored && this.#rejectedValues.has(stored.value))
        ? 'rejected'
        : stored === undefined && this.#current === undefined
          ? 'initial'
          : 'expired'
    try {
      const renewed = await waitFor(this.#run(reason, stored), options?.signal)
      return renewed.token
    } catch (error) {
      if (options?.signal?.aborted || this.#closed) throw error
      // Keep serving a token that is still valid (and was not dropped) while renewal fails,
      // unless the caller explicitly asked for a new one.
      if (
        !forced &&
        valid &&
        !this.#rejectedValues.has(valid.entry.value) &&
        (valid.entry.expiresAt === null || this.#clock.now() < valid.entry.expiresAt)
      ) {
        return this.#serveStale(valid, error)
      }
      throw error
    }
  }

  #serveStale(current: Current, error: unknown, reason = 'renewal-failed'): AccessToken {
    this.#publish('servedStale', {
      reason,
      tokenId: current.token.id,
      expiresAt: current.entry.expiresAt,
      error: errorFields(error),
    })
    return current.token
  }

  /** Starts a background renewal unless one is running, the source forbids it, or backoff says wait. */
  #renewInBackground(): void {
    if (this.#inflight || this.#closed || this.#source.reissueRevokesPrevious) return
    const current = this.#current
    if (!current) return
    const failure = this.#failure
    const now = this.#clock.now()
    if (failure && now < failure.retryAt) {
      this.#schedule(failure.retryAt)
      return
    }
    this.#run('renewal', current.entry).catch(noop)
  }

  /** Single flight: all callers share one token request. */
  #run(reason: TokenRequestReason, replacing: StoredToken | undefined): Promise<Current> {
    if (this.#inflight) return this.#inflight
    if (this.#closed) return Promise.reject(closedError())
    const promise = this.#obtain(reason, replacing).finally(() => {
      if (this.#inflight === promise) this.#inflight = undefined
    })
    promise.catch(noop) // background runs have no caller; their failure is handled in #obtain
    this.#inflight = promise
    return promise
  }

  async #obtain(reason: TokenRequestReason, replacing: StoredToken | undefined): Promise<Current> {
    const key = this.#cacheKey()
    const started = this.#clock.now()
    try {
      const { entry, issued } = await this.#obtainEntry(key, reason, replacing)
      if (issued) this.#rejectedValues.delete(entry.value)
      this.#currentRejected = false
      this.#failure = undefined
      this.#attempts = 0
      let current = this.#adopt(entry)
      if (!current) {
        throw new InvalidTokenResponseError(
          `${this.#source.vendor}: the new token is already unusable`,
        )
      }
      if (reason === 'rejected') {
        current = { ...current, replacedRejected: true }
        this.#current = current
      } else if (
        issued &&
        (reason === 'renewal' || reason === 'expired') &&
        !extendsExpiry(entry, replacing)
      ) {
        // The vendor answered with a token that lasts no longer than the one it replaces (the
        // same cached token, or an expiry in whole seconds). Asking again at once would get the
        // same: use it until it expires, then renew.
        current = {
          ...current,
          renewAt: Number.POSITIVE_INFINITY,
          mandatoryAt: current.entry.expiresAt ?? Number.POSITIVE_INFINITY,
        }
        this.#current = current
        this.#schedule(current.mandatoryAt)
      }
      if (issued) {
        this.#publish(reason === 'initial' ? 'issued' : 'renewed', {
          reason,
          durationMs: this.#clock.now() - started,
          tokenId: current.token.id,
          expiresAt: entry.expiresAt,
        })
      }
      return current
    } catch (caught) {
      if (this.#closed) throw caught
      const error = toTokenKeeperError(caught, this.#source.vendor)
      const retryAt = this.#recordFailure(error)
      this.#publish('failed', {
        reason,
        durationMs: this.#clock.now() - started,
        error: errorFields(error),
        retryAt,
      })
      this.#log(error.retryable ? 'warn' : 'error', error.message, {
        key,
        reason,
        code: error.code,
      })
      // A background renewal that failed tries again after the backoff while the token lasts,
      // but only if retrying can help: a refused credential is not sent again in the background
      // (repeated refused logins can lock an account).
      if (this.#current && reason === 'renewal' && error.retryable) this.#schedule(retryAt)
      throw error
    }
  }

  /** Reads the store, takes the lease if there is one, and issues only if still needed. */
  async #obtainEntry(
    key: string,
    reason: TokenRequestReason,
    replacing: StoredToken | undefined,
  ): Promise<{ entry: StoredToken; issued: boolean }> {
    const store = this.#store
    for (let round = 0; ; round++) {
      let lease: Awaited<ReturnType<NonNullable<TokenStore['lease']>>> | undefined
      if (store.lease) {
        lease = await store.lease(key, {
          ttl: this.#options.lease?.ttl ?? DEFAULTS.leaseTtl,
          waitTimeout: this.#options.lease?.waitTimeout ?? DEFAULTS.leaseWaitTimeout,
          signal: this.#abort.signal,
          exclusive:
            this.#source.reissueRevokesPrevious === true || this.#source.exclusiveIssue === true,
        })
        if (lease === null) {
          // Another holder finished: its token is usually in the store now.
          const entry = await this.#readStore(key)
          if (entry && this.#isReplacement(entry, replacing, reason))
            return { entry, issued: false }
          if (round < 10) continue
          throw new TokenTimeoutError(
            `${this.#source.vendor}: other processes kept failing to obtain a token; giving up after ${round + 1} waits`,
          )
        }
      }
      try {
        const stored = await this.#readStore(key)
        if (stored && this.#isReplacement(stored, replacing, reason))
          return { entry: stored, issued: false }
        const entry = await this.#issue(reason, stored ?? replacing)
        const written = await store.set(key, entry, { expectedValue: stored?.value ?? null })
        if (!written) {
          // Someone wrote meanwhile. A newer token wins (a slow writer must not overwrite it);
          // an older one (a stale copy re-seeded) must not replace the token we just got,
          // which, for revoke-on-reissue vendors, has revoked it.
          const other = await this.#readStore(key)
          if (other && other.issuedAt > entry.issuedAt && this.#adopt(other)) {
            return { entry: other, issued: false }
          }
          await store.set(key, entry)
        }
        return { entry, issued: true }
      } finally {
        if (lease) {
          await lease.release().catch((error: unknown) =>
            this.#log('warn', 'Could not release the token lease; it expires by itself', {
              key,
              error: describeError(error),
            }),
          )
        }
      }
    }
  }

  /** True if `entry` is a usable token that another caller stored in place of `replacing`. */
  #isReplacement(
    entry: StoredToken | undefined,
    replacing: StoredToken | undefined,
    reason: TokenRequestReason,
  ): boolean {
    if (entry === undefined || entry.rejected || this.#rejectedValues.has(entry.value)) return false
    if (reason !== 'initial' && replacing !== undefined && entry.value === replacing.value)
      return false
    const windows = this.#windows(entry)
    return this.#clock.now() < windows.mandatoryAt
  }

  async #issue(
    reason: TokenRequestReason,
    previous: StoredToken | undefined,
  ): Promise<StoredToken> {
    let exchange: (Exchange & { status: number }) | undefined
    const now = () => this.#clock.now()
    const transport = guardTransport(
      this.#transport,
      ({ sentAt, receivedAt, response }) => {
        exchange = {
          sentAt,
          receivedAt,
          status: response.status,
          ...(response.headers.date ? { date: response.headers.date } : {}),
        }
      },
      now,
    )
    const started = now()
    this.#publish('requested', { reason })
    const signal = this.#abort.signal
    signal.throwIfAborted()
    try {
      // Raced against the client's signal so close() never waits on a source that ignores it.
      const issued: IssuedToken = await waitFor(
        this.#source.requestToken({ transport, signal, now, previous, reason }),
        signal,
      )
      return this.#toEntry(issued, exchange ?? { sentAt: started, receivedAt: now() })
    } catch (error) {
      // The vendor answered 2xx but we cannot use the answer. If issuing revokes the previous
      // token, that token is probably dead now: stop serving it rather than serve it stale.
      const status = exchange?.status
      if (
        this.#source.reissueRevokesPrevious &&
        status !== undefined &&
        status >= 200 &&
        status < 300 &&
        TokenKeeperError.is(error) &&
        error.code === 'INVALID_TOKEN_RESPONSE'
      ) {
        this.#dropRevokedPrevious(previous)
      }
      throw error
    }
  }

  /** After a reissue that may have revoked it, the previous token must not be served. */
  #dropRevokedPrevious(previous: StoredToken | undefined): void {
    const value = previous?.value ?? this.#current?.entry.value
    if (value === undefined) return
    this.#rememberRejected(value)
    if (this.#current?.entry.value === value) {
      this.#current = undefined
      this.#cancelTimer()
    }
    try {
      const result = this.#store.invalidate(this.#cacheKey(), value)
      if (result instanceof Promise) result.catch(noop)
    } catch {
      // The store is unreachable; the local copy is dropped already.
    }
  }

  /** Validates an issued token and computes its expiry. */
  #toEntry(issued: IssuedToken, timing: Exchange): StoredToken {
    const vendor = this.#source.vendor
    if (typeof issued?.value !== 'string' || !HEADER_SAFE.test(issued.value)) {
      throw new InvalidTokenResponseError(
        `${vendor}: the access token is empty or contains characters that cannot be sent in a header`,
      )
    }
    if (
      issued.type !== undefined &&
      (typeof issued.type !== 'string' || !HEADER_SAFE.test(issued.type))
    ) {
      throw new InvalidTokenResponseError(
        `${vendor}: the token type is not a valid HTTP auth scheme`,
      )
    }
    const expiresAt = computeExpiry(issued, timing, {
      vendor,
      defaultLifetime: this.#options.defaultLifetime ?? DEFAULTS.defaultLifetime,
      ...(this.#options.maxLifetime !== undefined
        ? { maxLifetime: this.#options.maxLifetime }
        : {}),
    })
    return {
      value: issued.value,
      type: issued.type ?? 'Bearer',
      expiresAt,
      issuedAt: timing.sentAt,
      ...(issued.scope ? { scope: [...issued.scope] } : {}),
      ...(issued.state ? { state: issued.state } : {}),
      ...(issued.stateExpiresAt !== undefined ? { stateExpiresAt: issued.stateExpiresAt } : {}),
    }
  }

  /** Turns a store entry into the current token (memoised by identity), or `undefined`. */
  #adopt(entry: StoredToken | undefined): Current | undefined {
    if (entry === undefined || entry.rejected) return undefined
    const previous = this.#current
    if (previous !== undefined && previous.entry === entry) return previous
    if (this.#rejectedValues.has(entry.value)) return undefined
    const now = this.#clock.now()
    if (entry.expiresAt !== null && entry.expiresAt <= now) return undefined
    if (previous !== undefined && previous.entry.value === entry.value) {
      // Same token, new object (a shared store re-read it): keep the computed windows.
      const same: Current = { ...previous, entry }
      this.#current = same
      return same
    }
    this.#currentRejected = false
    const token = createAccessToken({
      value: entry.value,
      type: entry.type,
      expiresAt: entry.expiresAt,
      issuedAt: entry.issuedAt,
      ...(entry.scope ? { scope: entry.scope } : {}),
    })
    const windows = this.#windows(entry)
    const jitter = this.#random() * (windows.mandatoryAt - windows.advisoryAt) * 0.5
    const renewAt = this.#source.reissueRevokesPrevious
      ? Number.POSITIVE_INFINITY
      : windows.advisoryAt + jitter
    const current: Current = {
      entry,
      token,
      promise: Promise.resolve(token),
      headers: this.#source.authHeaders(token),
      mandatoryAt: windows.mandatoryAt,
      renewAt,
    }
    this.#current = current
    this.#fresh = undefined
    // Wake up at the renewal time (or, for sources never renewed ahead, when the mandatory
    // window opens) to renew and to end the hot path's trust in this token.
    this.#schedule(Math.min(renewAt, windows.mandatoryAt))
    return current
  }

  /**
   * The two windows before expiry. Mandatory: `clockTolerance` (at most a tenth of the
   * lifetime). Advisory: `refreshWindow` (at most a fifth of the lifetime), widened by the
   * source's ratio, and always at least twice the mandatory one so it starts first.
   */
  #windows(entry: StoredToken): RenewalWindows {
    return renewalWindows(entry, {
      ...(this.#options.clockTolerance !== undefined
        ? { clockTolerance: this.#options.clockTolerance }
        : {}),
      ...(this.#options.refreshWindow !== undefined
        ? { refreshWindow: this.#options.refreshWindow }
        : {}),
      ...(this.#source.refreshWindowRatio !== undefined
        ? { refreshWindowRatio: this.#source.refreshWindowRatio }
        : {}),
    })
  }

  /** One timer for the next background renewal (or retry); long waits are re-armed. */
  #schedule(at: number): void {
    this.#cancelTimer()
    if (this.#closed || !Number.isFinite(at)) return
    const delay = at - this.#clock.now()
    const timer = this.#clock.setTimeout(() => {
      if (this.#timer !== timer) return
      this.#timer = undefined
      this.#timerAt = Number.POSITIVE_INFINITY
      if (this.#clock.now() < at) {
        this.#schedule(at)
        return
      }
      this.#fresh = undefined
      this.#renewInBackground()
    }, clampDelay(delay))
    this.#timer = timer
    this.#timerAt = at
  }

  #cancelTimer(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    this.#fresh = undefined
  }

  /**
   * Whether a rejected current token is kept instead of renewed: within the source's
   * `rejectionGrace` after issue (any token), or by default when the token itself replaced a
   * rejected one moments ago. Either way the API is refusing the credential, not the token.
   */
  #keepDespiteRejection(current: Current): boolean {
    const entry = current.entry
    const age = this.#clock.now() - entry.issuedAt
    const sourceGrace = this.#source.rejectionGrace
    if (sourceGrace !== undefined) return age < sourceGrace
    if (!current.replacedRejected) return false
    const lifetime =
      entry.expiresAt === null ? Number.POSITIVE_INFINITY : entry.expiresAt - entry.issuedAt
    return age < Math.min(DEFAULT_REJECTION_GRACE, lifetime / 10)
  }

  /** Remembers a failure and returns when the next attempt may start. */
  #recordFailure(error: TokenKeeperError): number {
    const now = this.#clock.now()
    let retryAt: number
    if (error.retryable) {
      this.#attempts++
      const initial = this.#options.backoff?.initial ?? DEFAULTS.backoffInitial
      const max = this.#options.backoff?.max ?? DEFAULTS.backoffMax
      const base = Math.min(max, initial * 2 ** (this.#attempts - 1))
      retryAt = now + base * (0.5 + this.#random() * 0.5)
    } else {
      retryAt = now + (this.#options.negativeCacheTtl ?? DEFAULTS.negativeCacheTtl) * 1000
    }
    if (error.retryAt !== undefined) retryAt = Math.max(retryAt, error.retryAt)
    const floor = this.#source.minimumIssueInterval
    if (floor !== undefined) retryAt = Math.max(retryAt, now + floor)
    this.#failure = { error, retryAt }
    return retryAt
  }

  #rememberRejected(value: string): void {
    this.#rejectedValues.add(value)
    if (this.#rejectedValues.size > 32) {
      const oldest = this.#rejectedValues.values().next().value as string
      this.#rejectedValues.delete(oldest)
    }
  }

  async #readStore(key: string): Promise<StoredToken | undefined> {
    try {
      return await this.#store.get(key)
    } catch (error) {
      throw toTokenKeeperError(error, this.#source.vendor)
    }
  }

  #cacheKey(): string {
    if (this.#key === undefined) {
      const key = this.#source.cacheKey()
      if (typeof key !== 'string' || key.length === 0) {
        throw new ConfigurationError(
          `${this.#source.vendor}: the token source returned an empty cache key`,
        )
      }
      this.#key = key
    }
    return this.#key
  }

  #httpContext() {
    this.#originPolicy ??= normaliseOrigins(this.#options.origins ?? this.#source.origins?.() ?? [])
    return {
      vendor: this.#source.vendor,
      getToken: (options?: GetTokenOptions) => this.getToken(options),
      invalidate: (token: AccessToken) => this.invalidate(token),
      headersFor: (token: AccessToken) =>
        this.#current?.token === token ? this.#current.headers : this.#source.authHeaders(token),
      peekHeaders: () => {
        const fresh = this.#fresh
        if (fresh !== undefined && (++this.#calls & 63) !== 0) return fresh
        if (this.#closed) return undefined
        try {
          const current = this.#peek()
          return current
        } catch {
          return undefined
        }
      },
      rejectionStatuses: this.#rejectionStatuses,
      origins: this.#originPolicy,
      dispatcher: this.#options.dispatcher,
    }
  }

  #publish(name: Parameters<typeof publish>[0], fields: Omit<TokenEvent, 'key' | 'vendor'>): void {
    let key: string
    try {
      key = this.#cacheKey()
    } catch {
      key = '(unknown)'
    }
    publish(name, { key, vendor: this.#source.vendor, ...fields })
  }

  #log(level: keyof Logger, message: string, fields?: Record<string, unknown>): void {
    try {
      this.#options.logger?.[level]?.(message, { vendor: this.#source.vendor, ...fields })
    } catch {
      // A failing logger must not break token handling.
    }
  }
}

/** True unless `entry` expires no later than the still-valid token it replaces. */
function extendsExpiry(entry: StoredToken, replacing: StoredToken | undefined): boolean {
  if (replacing === undefined || replacing.rejected || replacing.expiresAt === null) return true
  return entry.expiresAt === null || entry.expiresAt > replacing.expiresAt
}

/** Waits for a shared promise, but lets this caller give up through its own signal. */
function waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

function closedError(): TokenKeeperError {
  return new TokenKeeperError('CLIENT_CLOSED', 'The token client is closed')
}

/** Every failure leaves as a TokenKeeperError; unknown errors are wrapped, not leaked raw. */
function toTokenKeeperError(error: unknown, vendor: string): TokenKeeperError {
  if (TokenKeeperError.is(error)) return error
  const name = error instanceof Error ? error.name : typeof error
  // The original may quote a request or a secret (a custom transport, a vendor bug): keep only
  // its name and code as the cause.
  const cause = new Error(`${name} (message withheld: it may contain a secret)`)
  cause.name = name
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') Object.assign(cause, { code })
  return new TokenKeeperError(
    'TOKEN_ENDPOINT_UNAVAILABLE',
    `${vendor}: unexpected ${name}${typeof code === 'string' ? ` (${code})` : ''} while obtaining a token`,
    { retryable: true, cause },
  )
}

function errorFields(error: unknown): TokenEvent['error'] {
  if (TokenKeeperError.is(error)) {
    return { code: error.code, message: error.message, retryable: error.retryable }
  }
  return {
    code: 'UNKNOWN',
    message: error instanceof Error ? error.name : 'error',
    retryable: false,
  }
}

function describeError(error: unknown): string {
  return TokenKeeperError.is(error)
    ? `${error.code}: ${error.message}`
    : error instanceof Error
      ? error.name
      : 'error'
}
