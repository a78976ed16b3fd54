import { randomBytes } from 'node:crypto'
import {
  type Clock,
  ConfigurationError,
  clampDelay,
  isLoopbackHost,
  isSpent,
  type LeaseOptions,
  type Logger,
  type MaybePromise,
  MemoryTokenStore,
  optionalSecret,
  type SecretInput,
  type StoredToken,
  StoreError,
  type StoreSetOptions,
  systemClock,
  type TokenLease,
  type TokenStore,
  TokenTimeoutError,
} from '@tokenkeeper/auth-core'
import { Redis, type RedisOptions } from 'ioredis'
import { Connection, closedError, isUnavailable } from './connection.ts'
import { type EncryptionKeyInput, EntryCipher, parseEncryptionKey } from './encryption.ts'
import { EntryCodec, isStoredToken, READ_FIELDS, usefulUntil } from './entry-codec.ts'
import { publishStoreEvent } from './events.ts'
import { channelName, fingerprint, type KeyNames, keyNames } from './keys.ts'
import { DELETE_ENTRY, INVALIDATE_ENTRY, RELEASE_LEASE, RENEW_LEASE, SET_ENTRY } from './scripts.ts'
import { Subscription } from './subscription.ts'

/** Environment variable read when `url` is not given. */
export const REDIS_URL_ENV = 'TOKENKEEPER_REDIS_URL'
/** Environment variable read when `encryptionKey` is not given. */
export const REDIS_ENCRYPTION_KEY_ENV = 'TOKENKEEPER_REDIS_ENCRYPTION_KEY'

/** Options of {@link createRedisTokenStore}. Durations are in milliseconds. */
export interface RedisTokenStoreOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `rediss://` for TLS. It may hold a password,
   * so it can be a `Secret`; it never appears in messages. Default: `TOKENKEEPER_REDIS_URL`.
   */
  url?: SecretInput
  /**
   * An ioredis client to use instead of `url` (for Sentinel, TLS options, ...). The store does
   * not close it; it opens one extra connection (`client.duplicate()`) for pub/sub.
   */
  client?: Redis
  /** Prefix of every Redis key and of the pub/sub channel. Default `'tokenkeeper:'`. */
  keyPrefix?: string
  /**
   * Encrypts entries at rest with AES-256-GCM: 32 bytes as a Buffer, 64 hex digits or base64.
   * Every process sharing the prefix needs the same key. Default:
   * `TOKENKEEPER_REDIS_ENCRYPTION_KEY`, else no encryption.
   */
  encryptionKey?: EncryptionKeyInput
  /** Older keys still accepted for reading while rotating `encryptionKey`. */
  decryptionKeys?: readonly EncryptionKeyInput[]
  /**
   * How long a local copy may be served without asking Redis, as a safety net behind pub/sub
   * invalidation (copies are dropped at once when another process writes or invalidates, and
   * are not trusted at all while the subscription is down). `0` reads Redis on every call.
   * Default 5 000.
   */
  memoryTtl?: number
  /** Most cache keys kept in the local layer. Default 1 000. */
  maxLocalEntries?: number
  /** Longest wait for the first connection. Default 5 000. */
  connectTimeout?: number
  /** Longest wait for an answer, or for a lost connection to come back. Default 2 000. */
  commandTimeout?: number
  /**
   * Polling interval while waiting for another process's lease, as a fallback for the release
   * notification (and to notice a lease that expired because its holder died). Default 250.
   */
  leasePollInterval?: number
  /**
   * What to do while Redis is unreachable:
   * - `'error'` (default): every operation fails with a `StoreError` (`STORE_UNAVAILABLE`); no
   *   token is requested, so processes never issue on their own.
   * - `'memory'`: serve and issue from process memory until Redis is back. Each process then
   *   requests its own tokens. Never use it for credentials whose reissue revokes the previous
   *   token (Clear) or whose refresh tokens rotate (Apiax): processes would revoke each other.
   */
  fallback?: 'error' | 'memory'
  /** Clock of token times: pass the same clock as the token client. Default: the system clock. */
  clock?: Clock
  /** Diagnostic messages (never secrets). */
  logger?: Logger
  /** Environment read for the defaults above. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
}

/** A {@link TokenStore} on Redis, shared by every process and machine that uses the same prefix. */
export interface RedisTokenStore extends TokenStore {
  readonly shared: true
  get(key: string): MaybePromise<StoredToken | undefined>
  set(key: string, entry: StoredToken, options?: StoreSetOptions): MaybePromise<boolean>
  invalidate(key: string, value: string): MaybePromise<boolean>
  delete(key: string): MaybePromise<void>
  lease(key: string, options: LeaseOptions): Promise<TokenLease | null>
  watch(key: string, listener: () => void): () => void
  /** True while Redis is unreachable and `fallback: 'memory'` serves from process memory. */
  readonly degraded: boolean
  /** Releases held leases, closes the connections it opened and stops its timers. */
  close(): Promise<void>
}

/**
 * Creates a {@link TokenStore} on Redis: pass it as the `store` option of any tokenkeeper
 * factory, and every process using the same Redis (and prefix) shares one token per credential.
 *
 * @example
 * const store = createRedisTokenStore({ url: 'redis://127.0.0.1:6379' })
 * const clear = createClearCfc({ environment: 'eu', clientSecret, store })
 * // ...
 * await clear.close()
 * await store.close()
 */
export function createRedisTokenStore(options: RedisTokenStoreOptions = {}): RedisTokenStore {
  return new DefaultRedisTokenStore(options)
}

const DEFAULTS = {
  keyPrefix: 'tokenkeeper:',
  memoryTtl: 5_000,
  maxLocalEntries: 1_000,
  connectTimeout: 5_000,
  commandTimeout: 2_000,
  leasePollInterval: 250,
}

const VENDOR = 'Redis token store'

/** What this process knows about one cache key. */
interface LocalRecord {
  readonly cacheKey: string
  readonly names: KeyNames
  /**
   * Bumped whenever the local copy may be stale (another process changed the entry, a
   * compare-and-set failed, a lease changed hands): a read that started before is not cached.
   */
  generation: number
  /** The copy served without a round trip while trusted; `undefined` when there is none. */
  cached: StoredToken | undefined
  /** The fields `cached` was decoded from, to keep its identity when nothing changed. */
  raw: string | undefined
  /** Subscription epoch the copy was read in; a copy from an older epoch is not trusted. */
  epoch: number
  /** `performance.now()` until which the copy is served. */
  trustedUntil: number
  /** From here on the copy is re-read in the background, so the hot path never waits. */
  refreshAt: number
  /** A read in progress, shared by concurrent callers. */
  reading: Promise<StoredToken | undefined> | undefined
  /** The last entry seen in Redis, used to seed the memory fallback. */
  lastKnown: StoredToken | undefined
  /** Re-reads a watched copy before its trust runs out (see `watch`). */
  timer: NodeJS.Timeout | undefined
}

/** A caller waiting for another holder's lease. */
interface LeaseWaiter {
  /** Set when a release or write was announced before the waiter started waiting. */
  notified: boolean
  /** A release (or a write) was announced: stop waiting. */
  wake(): void
  /** Announcements may have been missed: look at the lease now rather than at the next poll. */
  check(): void
  fail(error: unknown): void
}

class DefaultRedisTokenStore implements RedisTokenStore {
  readonly shared = true
  readonly #connection: Connection
  readonly #subscription: Subscription
  readonly #codec: EntryCodec
  readonly #keyPrefix: string
  readonly #channel: string
  /** This instance's id in messages, so it ignores its own. */
  readonly #origin = randomBytes(9).toString('base64url')
  readonly #memoryTtl: number
  readonly #maxLocalEntries: number
  readonly #pollInterval: number
  readonly #clock: Clock
  readonly #logger: Logger | undefined
  readonly #fallbackMode: 'error' | 'memory'
  #fallback: MemoryTokenStore | undefined
  #degraded = false
  /** Incremented whenever the subscription goes up or down; copies from other epochs are stale. */
  #epoch = 0
  #subscribed = false
  #started = false
  #closed = false
  readonly #records = new Map<string, LocalRecord>()
  readonly #recordsById = new Map<string, LocalRecord>()
  readonly #waiters = new Map<string, Set<LeaseWaiter>>()
  readonly #held = new Set<TokenLease>()
  /** `watch` listeners by cache key. */
  readonly #watchers = new Map<string, Set<() => void>>()

  constructor(options: RedisTokenStoreOptions) {
    const environment = options.env ?? process.env
    this.#keyPrefix = options.keyPrefix ?? DEFAULTS.keyPrefix
    if (typeof this.#keyPrefix !== 'string' || this.#keyPrefix.length > 256) {
      throw new ConfigurationError(
        `${VENDOR}: keyPrefix must be a string of at most 256 characters`,
        {
          setting: 'keyPrefix',
        },
      )
    }
    this.#channel = channelName(this.#keyPrefix)
    this.#memoryTtl = duration(options.memoryTtl, 'memoryTtl', DEFAULTS.memoryTtl, 0)
    this.#maxLocalEntries = duration(
      options.maxLocalEntries,
      'maxLocalEntries',
      DEFAULTS.maxLocalEntries,
      1,
    )
    this.#pollInterval = duration(
      options.leasePollInterval,
      'leasePollInterval',
      DEFAULTS.leasePollInterval,
      1,
    )
    const connectTimeout = duration(
      options.connectTimeout,
      'connectTimeout',
      DEFAULTS.connectTimeout,
      1,
    )
    const commandTimeout = duration(
      options.commandTimeout,
      'commandTimeout',
      DEFAULTS.commandTimeout,
      1,
    )
    this.#fallbackMode = options.fallback ?? 'error'
    if (this.#fallbackMode !== 'error' && this.#fallbackMode !== 'memory') {
      throw new ConfigurationError(`${VENDOR}: fallback must be 'error' or 'memory'`, {
        setting: 'fallback',
      })
    }
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger

    const encryptionKey =
      options.encryptionKey ??
      optionalSecret({
        value: undefined,
        setting: 'encryptionKey',
        env: REDIS_ENCRYPTION_KEY_ENV,
        vendor: VENDOR,
        environment,
      })
    // Checked before use: a single key (or `0`, an object) instead of a list is an easy mistake.
    if (
      options.decryptionKeys !== undefined &&
      options.decryptionKeys !== null &&
      !Array.isArray(options.decryptionKeys)
    ) {
      // The type only: the value may be a key.
      throw new ConfigurationError(
        `${VENDOR}: decryptionKeys must be a list of keys (e.g. [previousKey]), not a ${typeof options.decryptionKeys}`,
        { setting: 'decryptionKeys' },
      )
    }
    const cipher =
      encryptionKey === undefined
        ? undefined
        : new EntryCipher([
            parseEncryptionKey(encryptionKey, 'encryptionKey'),
            ...(options.decryptionKeys ?? []).map((key) =>
              parseEncryptionKey(key, 'decryptionKeys'),
            ),
          ])
    if (cipher === undefined && options.decryptionKeys?.length) {
      throw new ConfigurationError(`${VENDOR}: decryptionKeys needs an encryptionKey`, {
        setting: 'decryptionKeys',
      })
    }
    this.#codec = new EntryCodec(cipher)

    const redisOptions: RedisOptions = {
      lazyConnect: true,
      connectTimeout: clampDelay(connectTimeout),
      commandTimeout: clampDelay(commandTimeout),
      // Commands go only to a live connection: a queued lease or write landing after its caller
      // gave up would hold a lease nobody releases, or overwrite a newer token.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectionName: 'tokenkeeper',
      retryStrategy: (attempt) => Math.min(100 * attempt, 1_000) + Math.floor(Math.random() * 100),
    }
    let client: Redis
    let owned: boolean
    if (options.client !== undefined) {
      if (options.url !== undefined) {
        throw new ConfigurationError(`${VENDOR}: pass either url or client, not both`, {
          setting: 'url',
        })
      }
      client = options.client
      owned = false
    } else {
      const url = optionalSecret({
        value: options.url,
        setting: 'url',
        env: REDIS_URL_ENV,
        vendor: VENDOR,
        environment,
      })
      if (url === undefined) {
        throw new ConfigurationError(
          `${VENDOR}: url is missing; pass { url: 'redis://host:6379' } or set ${REDIS_URL_ENV}`,
          { setting: 'url' },
        )
      }
      const parsed = checkUrl(url.reveal())
      client = new Redis(url.reveal(), redisOptions)
      owned = true
      if (
        parsed.protocol === 'redis:' &&
        !isLoopbackHost(parsed.hostname) &&
        cipher === undefined
      ) {
        this.#log(
          'warn',
          'Tokens travel to Redis unencrypted (redis:// to a remote host, no encryptionKey); use rediss:// or set encryptionKey',
        )
      }
    }
    this.#connection = new Connection(client, owned, {
      connectTimeout,
      commandTimeout,
      logger: this.#logger,
    })
    const subscriber = client.duplicate({
      ...redisOptions,
      autoResubscribe: false,
      connectionName: 'tokenkeeper-events',
    })
    this.#subscription = new Subscription(
      subscriber,
      this.#channel,
      {
        onMessage: (message) => this.#onMessage(message),
        onStateChange: (up, reason) => this.#onSubscription(up, reason),
      },
      this.#logger,
    )
  }

  get degraded(): boolean {
    return this.#degraded
  }

  // -- TokenStore ------------------------------------------------------------------------------

  get(key: string): MaybePromise<StoredToken | undefined> {
    const record = this.#records.get(key)
    // The hot path: a copy read while subscribed, in the current epoch, within memoryTtl.
    if (record !== undefined && record.cached !== undefined && record.epoch === this.#epoch) {
      const now = performance.now()
      if (now < record.trustedUntil) {
        if (now >= record.refreshAt) this.#refreshInBackground(record)
        const entry = record.cached
        return isSpent(entry, this.#clock.now()) ? undefined : entry
      }
    }
    if (this.#closed) return Promise.reject(closedError())
    if (this.#useFallback()) return this.#fallbackGet(key)
    return this.#read(record ?? this.#record(key))
  }

  set(key: string, entry: StoredToken, options: StoreSetOptions = {}): MaybePromise<boolean> {
    if (this.#closed) return Promise.reject(closedError())
    if (!isStoredToken(entry)) {
      return Promise.reject(
        new StoreError(`${VENDOR}: set() was given something that is not a token entry`, {
          retryable: false,
        }),
      )
    }
    if (this.#useFallback()) return this.#inMemory(key, (memory) => memory.set(key, entry, options))
    this.#start()
    const record = this.#record(key)
    const { names } = record
    const now = this.#clock.now()
    const until = usefulUntil(entry)
    // -1: no expiry; 0: already of no use (written as a deletion, as MemoryTokenStore would
    // drop it on the next read).
    const px = until === Number.POSITIVE_INFINITY ? -1 : Math.max(0, Math.ceil(until - now))
    const encoded = this.#codec.encode(entry, names.entry)
    const expected = options.expectedValue
    const mode = expected === undefined ? 'always' : expected === null ? 'empty' : 'match'
    const generation = record.generation
    const epoch = this.#trustedEpoch()
    return this.#connection
      .run('a token write', (client) =>
        client.eval(
          SET_ENTRY,
          1,
          names.entry,
          mode,
          typeof expected === 'string' ? fingerprint(expected) : '',
          String(now),
          encoded.fp,
          encoded.data,
          encoded.fmt,
          encoded.rej,
          encoded.exp,
          encoded.sexp,
          String(px),
          this.#channel,
          this.#message('w', names.id),
        ),
      )
      .then(
        (result) => {
          if (result !== 1) {
            // Someone wrote a different token: what this process holds may be stale.
            this.#distrust(record)
            return false
          }
          const stored = px === 0 ? undefined : entry
          record.lastKnown = stored
          this.#remember(
            record,
            stored,
            rawOf([encoded.data, encoded.fmt, encoded.rej]),
            generation,
            epoch,
          )
          this.#notify(record)
          this.#wakeWaiters(names.id)
          return true
        },
        (error: unknown) =>
          this.#recover(error, () =>
            this.#inMemory(key, (memory) => memory.set(key, entry, options)),
          ),
      )
  }

  invalidate(key: string, value: string): MaybePromise<boolean> {
    if (this.#closed) return Promise.reject(closedError())
    if (this.#useFallback()) {
      return this.#inMemory(key, (memory) => memory.invalidate(key, value))
    }
    this.#start()
    const record = this.#record(key)
    // Synchronously: from now on this process reads Redis, where the script below runs first
    // (commands on one connection run in order).
    this.#distrust(record)
    if (record.lastKnown?.value === value) record.lastKnown = undefined
    const { names } = record
    return this.#connection
      .run('a token invalidation', (client) =>
        client.eval(
          INVALIDATE_ENTRY,
          1,
          names.entry,
          fingerprint(value),
          String(this.#clock.now()),
          this.#channel,
          this.#message('i', names.id),
        ),
      )
      .then(
        (result) => result === 1,
        (error: unknown) =>
          this.#recover(error, () =>
            this.#inMemory(key, (memory) => memory.invalidate(key, value)),
          ),
      )
  }

  delete(key: string): MaybePromise<void> {
    if (this.#closed) return Promise.reject(closedError())
    if (this.#useFallback()) return this.#inMemory(key, (memory) => memory.delete(key))
    this.#start()
    const record = this.#record(key)
    this.#forget(record)
    const { names } = record
    return this.#connection
      .run('a token deletion', (client) =>
        client.eval(DELETE_ENTRY, 1, names.entry, this.#channel, this.#message('d', names.id)),
      )
      .then(
        () => undefined,
        (error: unknown) =>
          this.#recover(error, () => this.#inMemory(key, (memory) => memory.delete(key))),
      )
  }

  async lease(key: string, options: LeaseOptions): Promise<TokenLease | null> {
    if (this.#closed) throw closedError()
    const ttl = duration(options?.ttl, 'lease.ttl', Number.NaN, 1)
    const waitTimeout = duration(options.waitTimeout, 'lease.waitTimeout', Number.NaN, 0)
    options.signal?.throwIfAborted()
    if (this.#useFallback()) return this.#fallbackLease(key, options, undefined)
    this.#start()
    const record = this.#record(key)
    const { names } = record
    const owner = `${this.#origin}.${randomBytes(12).toString('base64url')}`
    // Registered before asking, so a release announced between our SET and our wait is not missed.
    const waiter = this.#addWaiter(names.id)
    let acquired: boolean
    try {
      acquired =
        (await this.#connection.run('a lease request', (client) =>
          client.set(names.lease, owner, 'PX', Math.ceil(ttl), 'NX'),
        )) === 'OK'
    } catch (error) {
      this.#removeWaiter(names.id, waiter)
      return this.#recover(error, () => this.#fallbackLease(key, options, error))
    }
    // Whoever holds the lease next re-reads Redis rather than a copy that may predate a write.
    this.#distrust(record)
    if (acquired) {
      this.#removeWaiter(names.id, waiter)
      // Closed meanwhile: the connection is gone, so the lease simply expires.
      if (this.#closed) throw closedError()
      const lease = this.#holdLease(record, owner, Math.ceil(ttl))
      if (options.signal?.aborted) {
        await lease.release().catch(() => {})
        throw options.signal.reason
      }
      return lease
    }
    await this.#waitForRelease(record, waiter, waitTimeout, options.signal)
    this.#distrust(record)
    return null
  }

  /**
   * Calls `listener` whenever the entry for `key` may have changed, or this store can no longer
   * vouch for what it last served: a write, invalidation or deletion here or in another process
   * (announced on the channel), a lost subscription, a failed or different re-read. While a key
   * is watched, its local copy is re-read from Redis every `memoryTtl / 2` (one small read per
   * key and process), so a lost announcement is noticed within `memoryTtl` even when the client
   * answers from its own memory without calling `get`.
   */
  watch(key: string, listener: () => void): () => void {
    if (this.#closed) return () => {}
    let listeners = this.#watchers.get(key)
    if (listeners === undefined) {
      listeners = new Set()
      this.#watchers.set(key, listeners)
    }
    listeners.add(listener)
    this.#start()
    const record = this.#records.get(key)
    if (record?.cached !== undefined && record.timer === undefined) this.#armRefresh(record)
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0 && this.#watchers.get(key) === listeners) {
        this.#watchers.delete(key)
        const watched = this.#records.get(key)
        if (watched) {
          clearTimeout(watched.timer)
          watched.timer = undefined
        }
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const waiters of this.#waiters.values()) {
      for (const waiter of waiters) waiter.fail(closedError())
    }
    this.#waiters.clear()
    // Released while the connection is still open, so the next holder need not wait for expiry.
    await Promise.allSettled([...this.#held].map((lease) => lease.release()))
    for (const record of this.#records.values()) clearTimeout(record.timer)
    this.#watchers.clear()
    this.#records.clear()
    this.#recordsById.clear()
    await Promise.allSettled([this.#subscription.close(), this.#connection.close()])
  }

  // -- reading and the local layer -------------------------------------------------------------

  #read(record: LocalRecord): Promise<StoredToken | undefined> {
    if (record.reading) return record.reading
    this.#start()
    const generation = record.generation
    const epoch = this.#trustedEpoch()
    const { names } = record
    const promise = this.#connection
      .run('a token read', (client) => client.hmget(names.entry, ...READ_FIELDS))
      .then(
        (fields) => {
          const entry = this.#codec.decode(fields, names.entry, `the entry for key id ${names.id}`)
          record.lastKnown = entry
          const kept = this.#remember(record, entry, rawOf(fields), generation, epoch)
          return kept === undefined || isSpent(kept, this.#clock.now()) ? undefined : kept
        },
        (error: unknown) => this.#recover(error, () => this.#fallbackGet(record.cacheKey)),
      )
      .finally(() => {
        if (record.reading === promise) record.reading = undefined
      })
    record.reading = promise
    return promise
  }

  /**
   * Keeps what was read (or written) as the local copy, if nothing happened since the
   * operation started that could make it stale. Returns the entry to hand out: the previous
   * object when nothing changed, so the client's per-object memo keeps working.
   */
  #remember(
    record: LocalRecord,
    entry: StoredToken | undefined,
    raw: string,
    generation: number,
    epoch: number | undefined,
  ): StoredToken | undefined {
    if (entry !== undefined && record.cached !== undefined && record.raw === raw) {
      entry = record.cached
    }
    if (
      record.generation !== generation ||
      epoch === undefined ||
      epoch !== this.#trustedEpoch() ||
      this.#memoryTtl === 0 ||
      this.#records.get(record.cacheKey) !== record
    ) {
      return entry
    }
    // A re-read that finds something else than the copy (an announcement was lost).
    const changed = record.cached !== undefined && record.raw !== raw
    const now = performance.now()
    record.cached = entry
    record.raw = entry === undefined ? undefined : raw
    record.epoch = epoch
    record.trustedUntil = now + this.#memoryTtl
    record.refreshAt = now + this.#memoryTtl / 2
    if (entry !== undefined && this.#watchers.has(record.cacheKey)) this.#armRefresh(record)
    if (changed) this.#notify(record)
    return entry
  }

  /** Re-reads a watched copy at `refreshAt`, before its trust runs out. */
  #armRefresh(record: LocalRecord): void {
    clearTimeout(record.timer)
    record.timer = setTimeout(
      () => {
        record.timer = undefined
        if (this.#closed || !this.#watchers.has(record.cacheKey)) return
        this.#read(record).then(
          () => {
            // Not kept (the subscription dropped, or something changed meanwhile): the copy
            // is no longer vouched for.
            if (record.cached === undefined) this.#notify(record)
          },
          () => this.#notify(record),
        )
      },
      clampDelay(record.refreshAt - performance.now()),
    )
    record.timer.unref()
  }

  /** Tells the watchers of a key that what they hold may be stale. */
  #notify(record: LocalRecord): void {
    this.#notifyKey(record.cacheKey)
  }

  #notifyKey(key: string): void {
    const listeners = this.#watchers.get(key)
    if (listeners === undefined) return
    for (const listener of [...listeners]) {
      try {
        listener()
      } catch {
        // A failing listener must not break the others.
      }
    }
  }

  /** Re-reads a copy halfway through its memoryTtl, so hot callers never wait for Redis. */
  #refreshInBackground(record: LocalRecord): void {
    if (record.reading || this.#closed) return
    record.refreshAt = record.trustedUntil // one attempt per copy; a failure shows at expiry
    this.#read(record).catch(() => {})
  }

  /** The local copy may be stale: drop it, ignore reads already under way, tell watchers. */
  #distrust(record: LocalRecord): void {
    record.generation++
    record.cached = undefined
    record.raw = undefined
    record.reading = undefined
    clearTimeout(record.timer)
    record.timer = undefined
    this.#notify(record)
  }

  /** Another process changed the entry: nothing this process knew about it holds any more. */
  #forget(record: LocalRecord): void {
    this.#distrust(record)
    record.lastKnown = undefined
  }

  #record(key: string): LocalRecord {
    let record = this.#records.get(key)
    if (record === undefined) {
      const names = keyNames(this.#keyPrefix, key)
      record = {
        cacheKey: key,
        names,
        generation: 0,
        cached: undefined,
        raw: undefined,
        epoch: -1,
        trustedUntil: 0,
        refreshAt: 0,
        reading: undefined,
        lastKnown: undefined,
        timer: undefined,
      }
      this.#records.set(key, record)
      this.#recordsById.set(names.id, record)
      if (this.#records.size > this.#maxLocalEntries) {
        const [oldestKey, oldest] = this.#records.entries().next().value as [string, LocalRecord]
        this.#records.delete(oldestKey)
        this.#recordsById.delete(oldest.names.id)
        this.#distrust(oldest)
      }
    }
    return record
  }

  /** The current epoch if the subscription is up (copies may be cached), else `undefined`. */
  #trustedEpoch(): number | undefined {
    return this.#subscribed ? this.#epoch : undefined
  }

  // -- pub/sub -----------------------------------------------------------------------------------

  /** `origin|action|keyId`: w(rite), i(nvalidate), d(elete), r(elease). No secret in it. */
  #message(action: 'w' | 'i' | 'd' | 'r', id: string): string {
    return `${this.#origin}|${action}|${id}`
  }

  #onMessage(message: string): void {
    const [origin, action, id] = message.split('|')
    if (id === undefined) return
    if (action === 'r' || action === 'w') this.#wakeWaiters(id)
    if (origin === this.#origin) return
    if (action !== 'w' && action !== 'i' && action !== 'd') return
    const record = this.#recordsById.get(id)
    if (record === undefined) return
    this.#forget(record)
    publishStoreEvent({
      type: 'remote-change',
      keyId: id,
      action: action === 'w' ? 'write' : action === 'i' ? 'invalidate' : 'delete',
    })
  }

  #onSubscription(up: boolean, reason: string): void {
    // Either way, copies from before are not trusted: messages may have been missed meanwhile.
    this.#epoch++
    this.#subscribed = up
    publishStoreEvent({ type: up ? 'subscription-up' : 'subscription-down', reason })
    if (!up) {
      // Nothing held locally is vouched for any more.
      for (const record of this.#records.values()) {
        clearTimeout(record.timer)
        record.timer = undefined
        this.#notify(record)
      }
    }
    if (!up && !this.#closed) {
      this.#log(
        'warn',
        'Lost the Redis subscription; reading Redis on every call until it is back',
        {
          reason,
        },
      )
    }
    // Releases announced while down were missed: let waiters look now rather than at their next poll.
    if (up) {
      for (const waiters of this.#waiters.values()) for (const waiter of waiters) waiter.check()
    }
  }

  #start(): void {
    if (this.#started) return
    this.#started = true
    this.#connection.start()
    this.#subscription.start()
  }

  // -- leases ------------------------------------------------------------------------------------

  #holdLease(record: LocalRecord, owner: string, ttl: number): TokenLease {
    const { names } = record
    let released = false
    let timer: NodeJS.Timeout | undefined
    // Renewed at a third of its life, so one late or failed renewal does not lose it.
    const interval = Math.max(1, Math.floor(ttl / 3))
    const renew = () => {
      timer = setTimeout(async () => {
        if (released || this.#closed) return
        try {
          const extended = await this.#connection.run('a lease renewal', (client) =>
            client.eval(RENEW_LEASE, 1, names.lease, owner, String(ttl)),
          )
          if (extended !== 1 && !released) {
            released = true
            this.#held.delete(lease)
            publishStoreEvent({ type: 'lease-lost', keyId: names.id, reason: 'expired' })
            this.#log(
              'warn',
              'A token lease expired before its holder finished; another process may request a token too',
              { keyId: names.id },
            )
            return
          }
        } catch {
          // Redis is unreachable: try again; if it stays away the lease expires by itself.
        }
        if (!released) renew()
      }, clampDelay(interval))
      timer.unref()
    }
    const lease: TokenLease = {
      release: async () => {
        if (released) return
        released = true
        clearTimeout(timer)
        this.#held.delete(lease)
        try {
          await this.#connection.run('a lease release', (client) =>
            client.eval(
              RELEASE_LEASE,
              1,
              names.lease,
              owner,
              this.#channel,
              this.#message('r', names.id),
            ),
          )
        } finally {
          this.#wakeWaiters(names.id)
        }
      },
    }
    this.#held.add(lease)
    renew()
    return lease
  }

  #addWaiter(id: string): LeaseWaiter {
    const waiter: LeaseWaiter = {
      notified: false,
      wake: () => {
        waiter.notified = true
      },
      check: () => {},
      fail: () => {},
    }
    let waiters = this.#waiters.get(id)
    if (waiters === undefined) {
      waiters = new Set()
      this.#waiters.set(id, waiters)
    }
    waiters.add(waiter)
    return waiter
  }

  #removeWaiter(id: string, waiter: LeaseWaiter): void {
    const waiters = this.#waiters.get(id)
    if (waiters === undefined) return
    waiters.delete(waiter)
    if (waiters.size === 0) this.#waiters.delete(id)
  }

  #wakeWaiters(id: string): void {
    const waiters = this.#waiters.get(id)
    if (waiters === undefined) return
    for (const waiter of [...waiters]) waiter.wake()
  }

  /**
   * Resolves when the lease is released (announced on the channel) or gone (polled: it may have
   * expired with a dead holder); rejects after `waitTimeout`, on abort, or when Redis fails.
   */
  #waitForRelease(
    record: LocalRecord,
    waiter: LeaseWaiter,
    waitTimeout: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { names } = record
    return new Promise<void>((resolve, reject) => {
      let settled = false
      let pollTimer: NodeJS.Timeout | undefined
      const finish = (error?: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(pollTimer)
        clearTimeout(timeoutTimer)
        signal?.removeEventListener('abort', onAbort)
        this.#removeWaiter(names.id, waiter)
        if (error === undefined) resolve()
        else reject(error)
      }
      const poll = () => {
        this.#connection
          .run('a lease check', (client) => client.pttl(names.lease))
          .then((remaining) => {
            if (settled) return
            // -2: gone. Otherwise look again when it would expire, or at the poll interval.
            if (remaining === -2) finish()
            else
              schedule(
                remaining > 0 ? Math.min(this.#pollInterval, remaining + 1) : this.#pollInterval,
              )
          }, finish)
      }
      const schedule = (delay: number) => {
        clearTimeout(pollTimer)
        pollTimer = setTimeout(poll, clampDelay(delay))
        pollTimer.unref()
      }
      const timeoutTimer = setTimeout(
        () =>
          finish(
            new TokenTimeoutError(
              `Timed out after ${waitTimeout} ms waiting for another process to obtain a token (key id ${names.id}); it may be slow or stuck. Raise the client's lease.waitTimeout, or check the token endpoint`,
            ),
          ),
        clampDelay(waitTimeout),
      )
      timeoutTimer.unref()
      const onAbort = () => finish(signal?.reason)
      if (signal?.aborted) return finish(signal.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      waiter.wake = () => finish()
      waiter.check = () => schedule(0)
      waiter.fail = (error) => finish(error)
      if (waiter.notified) return finish()
      schedule(this.#pollInterval)
    })
  }

  // -- unavailability and the memory fallback ----------------------------------------------------

  /** True while degraded and Redis is still away; switches back as soon as it is ready. */
  #useFallback(): boolean {
    if (!this.#degraded) return false
    if (!this.#connection.isReady) return true
    this.#degraded = false
    this.#fallback = undefined
    for (const key of this.#watchers.keys()) this.#notifyKey(key)
    publishStoreEvent({ type: 'fallback-ended', reason: 'Redis is back' })
    this.#log('info', 'Redis is back; the memory fallback is off')
    return false
  }

  /** Rethrows, or, with `fallback: 'memory'` and Redis unreachable, runs `fallback` instead. */
  #recover<T>(error: unknown, fallback: () => MaybePromise<T>): MaybePromise<T> {
    if (this.#fallbackMode !== 'memory' || !isUnavailable(error) || this.#closed) throw error
    if (!this.#degraded) {
      this.#degraded = true
      for (const key of this.#watchers.keys()) this.#notifyKey(key)
      publishStoreEvent({ type: 'fallback-started', reason: 'Redis is unreachable' })
      this.#log(
        'warn',
        'Redis is unreachable; serving and requesting tokens in process memory until it is back (fallback: memory)',
        { error: error instanceof Error ? error.message : 'error' },
      )
    }
    return fallback()
  }

  /**
   * A lease from the memory fallback, except for keys whose source needs one issuer across all
   * processes (`exclusive`: revoke-on-reissue, single-use refresh tokens): those fail instead.
   */
  #fallbackLease(key: string, options: LeaseOptions, cause: unknown): Promise<TokenLease | null> {
    if (options.exclusive) {
      return Promise.reject(
        new StoreError(
          `${VENDOR}: Redis is unreachable and this credential must not be issued per process (fallback: 'memory' does not apply to it); retry when Redis is back`,
          { cause: cause instanceof Error ? cause : undefined },
        ),
      )
    }
    return this.#memory().lease(key, options)
  }

  /** A change made in the memory fallback, told to watchers like any other. */
  #inMemory<T>(key: string, change: (memory: MemoryTokenStore) => T): T {
    const result = change(this.#memory())
    this.#notifyKey(key)
    return result
  }

  #memory(): MemoryTokenStore {
    this.#fallback ??= new MemoryTokenStore({
      clock: this.#clock,
      maxEntries: this.#maxLocalEntries,
    })
    return this.#fallback
  }

  /** Reads the fallback, seeded with the last entry seen in Redis so a valid token stays in use. */
  #fallbackGet(key: string): StoredToken | undefined {
    const memory = this.#memory()
    const entry = memory.get(key)
    if (entry !== undefined) return entry
    const lastKnown = this.#records.get(key)?.lastKnown
    if (lastKnown === undefined) return undefined
    memory.set(key, lastKnown)
    return memory.get(key)
  }

  #log(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void {
    try {
      this.#logger?.[level]?.(message, { store: 'redis', ...fields })
    } catch {
      // A failing logger must not break token handling.
    }
  }
}

/** Identity of what a hash held: the same string means the same entry (GCM IVs never repeat). */
function rawOf(fields: readonly (string | null)[]): string {
  return fields.map((field) => field ?? '').join('\u0000')
}

/** A numeric option; `fallback` NaN makes it required. */
function duration(value: unknown, setting: string, fallback: number, minimum: number): number {
  if (value === undefined && !Number.isNaN(fallback)) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < minimum) {
    throw new ConfigurationError(`${VENDOR}: ${setting} must be a number of at least ${minimum}`, {
      setting,
    })
  }
  return value
}

function checkUrl(value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    // Not echoed: the URL may hold a password.
    throw new ConfigurationError(`${VENDOR}: url is not a valid redis:// or rediss:// URL`, {
      setting: 'url',
    })
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigurationError(`${VENDOR}: url must start with redis:// or rediss://`, {
      setting: 'url',
    })
  }
  return url
}
