import { randomBytes } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { inspect } from 'node:util'
import {
  ManualClock,
  MemoryTokenStore,
  type StoredToken,
  TokenKeeperError,
  type TokenStore,
} from '@tokenkeeper/auth-core'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createRedisTokenStore,
  type RedisStoreEvent,
  type RedisTokenStore,
  type RedisTokenStoreOptions,
  STORE_REDIS_CHANNEL,
} from '../src/index.ts'
import { keyNames } from '../src/keys.ts'
import {
  deletePrefix,
  freePort,
  type OwnRedis,
  REDIS_URL,
  requireRedis,
  startOwnRedis,
  uniquePrefix,
} from './support/redis.ts'

const HOUR = 3_600_000
const TOKEN = 'TOKEN-sentinel-7731'
const REFRESH = 'REFRESH-sentinel-5120'

let admin: Redis
const prefix = uniquePrefix('store')
const stores: RedisTokenStore[] = []

beforeAll(async () => {
  admin = await requireRedis()
})
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
})
afterAll(async () => {
  await deletePrefix(admin, prefix)
  admin.disconnect()
})

function newStore(options: RedisTokenStoreOptions = {}): RedisTokenStore {
  const store = createRedisTokenStore({ url: REDIS_URL, keyPrefix: prefix, ...options })
  stores.push(store)
  return store
}

let keyCounter = 0
function uniqueKey(): string {
  return `loopback:client-${keyCounter++}:${randomBytes(3).toString('hex')}`
}

function token(value: string, now: number, extra: Partial<StoredToken> = {}): StoredToken {
  return { value, type: 'Bearer', expiresAt: now + HOUR, issuedAt: now, ...extra }
}

/** Resolves with the first store event matching `match`. */
function nextEvent(match: (event: RedisStoreEvent) => boolean): Promise<RedisStoreEvent> {
  return new Promise((resolve) => {
    const handler = (message: unknown) => {
      const event = message as RedisStoreEvent
      if (!match(event)) return
      unsubscribe(STORE_REDIS_CHANNEL, handler)
      resolve(event)
    }
    subscribe(STORE_REDIS_CHANNEL, handler)
  })
}

/** Waits until the store serves `key` from its local layer (its subscription is up). */
async function untilLocal(store: TokenStore, key: string): Promise<StoredToken | undefined> {
  let result: unknown
  await vi.waitFor(
    async () => {
      result = store.get(key)
      if (result instanceof Promise) {
        await result
        throw new Error('still reading Redis')
      }
    },
    { timeout: 5_000, interval: 20 },
  )
  return result as StoredToken | undefined
}

describe('compare-and-set and invalidation match MemoryTokenStore', () => {
  /** Runs the same steps on a store and returns every observable result. */
  async function scenario(store: TokenStore, clock: ManualClock, key: string) {
    const now = clock.now()
    const results: unknown[] = []
    const read = async () => {
      const entry = await store.get(key)
      return entry === undefined
        ? 'empty'
        : { value: entry.value, rejected: entry.rejected ?? false }
    }
    results.push(await read())
    results.push(await store.set(key, token('a', now), { expectedValue: 'zzz' })) // empty: writes
    results.push(await store.set(key, token('b', now), { expectedValue: null })) // not empty
    results.push(await store.set(key, token('b', now), { expectedValue: 'stale' }))
    results.push(await read())
    results.push(await store.set(key, token('b', now), { expectedValue: 'a' }))
    results.push(await store.set(key, token('c', now))) // unconditional
    results.push(await read())
    results.push(await store.invalidate(key, 'b')) // not current
    results.push(await store.invalidate(key, 'c'))
    results.push(await store.invalidate(key, 'c')) // already rejected
    results.push(await read()) // rejected without state: gone
    results.push(await store.set(key, token('d', now), { expectedValue: null }))
    // With state: the rejected entry stays readable for its state, and can be replaced.
    results.push(
      await store.set(
        key,
        token('e', now, { state: { refreshToken: 'r1' }, stateExpiresAt: now + 2 * HOUR }),
      ),
    )
    results.push(await store.invalidate(key, 'e'))
    results.push(await read())
    results.push(await store.set(key, token('f', now), { expectedValue: null })) // still useful
    results.push(await store.set(key, token('f', now), { expectedValue: 'e' }))
    // Expired without state counts as empty.
    results.push(await store.set(key, token('g', now, { expiresAt: now + 1_000 })))
    clock.set(now + 2_000)
    results.push(await read())
    results.push(await store.set(key, token('h', clock.now()), { expectedValue: null }))
    results.push(await read())
    await store.delete(key)
    results.push(await read())
    return results
  }

  it('gives the same answers for the same steps', async () => {
    const memoryClock = new ManualClock()
    const redisClock = new ManualClock()
    const memory = await scenario(new MemoryTokenStore({ clock: memoryClock }), memoryClock, 'k')
    const redis = await scenario(newStore({ clock: redisClock }), redisClock, uniqueKey())
    expect(redis).toEqual(memory)
    // And the answers are the intended ones, not merely equal.
    expect(memory).toEqual([
      'empty',
      true,
      false,
      false,
      { value: 'a', rejected: false },
      true,
      true,
      { value: 'c', rejected: false },
      false,
      true,
      false,
      'empty',
      true,
      true,
      true,
      { value: 'e', rejected: true },
      false,
      true,
      true,
      'empty',
      true,
      { value: 'h', rejected: false },
      'empty',
    ])
  })

  it('keeps every field of an entry, state included', async () => {
    const store = newStore()
    const key = uniqueKey()
    const now = Date.now()
    const entry = token(TOKEN, now, {
      type: 'DPoP',
      scope: ['read', 'write'],
      state: { refreshToken: REFRESH, nested: { list: [1, 'two', null, true] } },
      stateExpiresAt: now + 2 * HOUR,
    })
    expect(await store.set(key, entry)).toBe(true)
    const other = newStore()
    expect(await other.get(key)).toEqual(entry)
  })

  it('a slow writer with an old expectedValue never overwrites a newer token', async () => {
    const first = newStore()
    const second = newStore()
    const key = uniqueKey()
    const now = Date.now()
    await first.set(key, token('old', now))
    // Both read "old" and request new tokens; the faster one writes first.
    expect(await second.set(key, token('fast', now), { expectedValue: 'old' })).toBe(true)
    expect(await first.set(key, token('slow', now), { expectedValue: 'old' })).toBe(false)
    expect((await first.get(key))?.value).toBe('fast')
    expect((await second.get(key))?.value).toBe('fast')
  })
})

describe('entries live as long as they are useful', () => {
  it('expire with the token', async () => {
    const store = newStore()
    const key = uniqueKey()
    await store.set(key, token('t', Date.now(), { expiresAt: Date.now() + 60_000 }))
    const ttl = await admin.pttl(keyNames(prefix, key).entry)
    expect(ttl).toBeGreaterThan(50_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
  })

  it('outlive the token while its state is useful', async () => {
    const store = newStore()
    const key = uniqueKey()
    const now = Date.now()
    await store.set(
      key,
      token('t', now, { expiresAt: now + 60_000, state: { r: 1 }, stateExpiresAt: now + HOUR }),
    )
    const ttl = await admin.pttl(keyNames(prefix, key).entry)
    expect(ttl).toBeGreaterThan(HOUR - 10_000)
    expect(ttl).toBeLessThanOrEqual(HOUR)
  })

  it('never expire when neither token nor state does', async () => {
    const store = newStore()
    const key = uniqueKey()
    await store.set(key, token('t', Date.now(), { expiresAt: null }))
    expect(await admin.pttl(keyNames(prefix, key).entry)).toBe(-1)
  })

  it('shrink to the life of their state once rejected, and go when there is none', async () => {
    const store = newStore()
    const withState = uniqueKey()
    const withoutState = uniqueKey()
    const now = Date.now()
    await store.set(
      withState,
      token('s', now, { expiresAt: now + 2 * HOUR, state: { r: 1 }, stateExpiresAt: now + 60_000 }),
    )
    await store.set(withoutState, token('n', now))
    expect(await store.invalidate(withState, 's')).toBe(true)
    expect(await store.invalidate(withoutState, 'n')).toBe(true)
    const ttl = await admin.pttl(keyNames(prefix, withState).entry)
    expect(ttl).toBeGreaterThan(50_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
    expect(await admin.exists(keyNames(prefix, withoutState).entry)).toBe(0)
  })

  it('are written as nothing when already useless', async () => {
    const store = newStore()
    const key = uniqueKey()
    const now = Date.now()
    expect(await store.set(key, token('t', now - HOUR, { expiresAt: now - 1 }))).toBe(true)
    expect(await admin.exists(keyNames(prefix, key).entry)).toBe(0)
    expect(await store.get(key)).toBeUndefined()
  })
})

describe('the local layer', () => {
  it('answers synchronously once subscribed, with the same object each time', async () => {
    const store = newStore()
    const key = uniqueKey()
    await store.set(key, token(TOKEN, Date.now()))
    const first = await untilLocal(store, key)
    expect(first?.value).toBe(TOKEN)
    expect(store.get(key)).toBe(first)
  })

  it('drops a copy when another store invalidates it, and never serves it afterwards', async () => {
    const writer = newStore()
    const reader = newStore()
    const key = uniqueKey()
    await writer.set(key, token(TOKEN, Date.now()))
    expect((await untilLocal(reader, key))?.value).toBe(TOKEN)
    const { id } = keyNames(prefix, key)
    const received = nextEvent((event) => event.type === 'remote-change' && event.keyId === id)

    expect(await writer.invalidate(key, TOKEN)).toBe(true)
    expect(await received).toMatchObject({ action: 'invalidate' })

    const after = reader.get(key)
    expect(after).toBeInstanceOf(Promise) // the copy is gone: Redis is asked
    expect(await after).toBeUndefined()
  })

  it('picks up another store’s write as soon as it is announced', async () => {
    const writer = newStore()
    const reader = newStore()
    const key = uniqueKey()
    await writer.set(key, token('first', Date.now()))
    expect((await untilLocal(reader, key))?.value).toBe('first')
    const { id } = keyNames(prefix, key)
    const received = nextEvent((event) => event.type === 'remote-change' && event.keyId === id)
    await writer.set(key, token('second', Date.now()), { expectedValue: 'first' })
    await received
    expect((await reader.get(key))?.value).toBe('second')
    expect((await untilLocal(reader, key))?.value).toBe('second')
  })

  it('re-reads Redis after memoryTtl even if an announcement was lost', async () => {
    const reader = newStore({ memoryTtl: 100 })
    const key = uniqueKey()
    const now = Date.now()
    await reader.set(key, token('first', now))
    expect((await untilLocal(reader, key))?.value).toBe('first')
    // Written behind the store's back: no announcement.
    const silent = newStore()
    const name = keyNames(prefix, key).entry
    await silent.set(`${key}:elsewhere`, token('second', now))
    const copied = await admin.hgetall(keyNames(prefix, `${key}:elsewhere`).entry)
    expect(copied.data).toBeDefined()
    await admin.hset(name, copied)
    await vi.waitFor(async () => expect((await reader.get(key))?.value).toBe('second'), {
      timeout: 5_000,
      interval: 20,
    })
  })

  it('with memoryTtl 0 always reads Redis', async () => {
    const store = newStore({ memoryTtl: 0 })
    const key = uniqueKey()
    await store.set(key, token('t', Date.now()))
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      const result = store.get(key)
      expect(result).toBeInstanceOf(Promise)
      expect((await result)?.value).toBe('t')
    }
  })
})

describe('watch', () => {
  it('tells watchers about writes, invalidations and deletions, here and elsewhere', async () => {
    const watched = newStore()
    const other = newStore()
    const key = uniqueKey()
    const calls: string[] = []
    let phase = 'none'
    const unwatch = watched.watch(key, () => calls.push(phase))
    await watched.set(key, token('a', Date.now()))
    await untilLocal(watched, key)
    const { id } = keyNames(prefix, key)
    calls.length = 0

    phase = 'local write'
    await watched.set(key, token('b', Date.now()))
    phase = 'remote write'
    let received = nextEvent((event) => event.type === 'remote-change' && event.keyId === id)
    await other.set(key, token('c', Date.now()))
    await received
    phase = 'remote invalidation'
    received = nextEvent((event) => event.type === 'remote-change' && event.keyId === id)
    await other.invalidate(key, 'c')
    await received
    phase = 'local deletion'
    await watched.delete(key)

    expect(new Set(calls)).toEqual(
      new Set(['local write', 'remote write', 'remote invalidation', 'local deletion']),
    )
    unwatch()
    calls.length = 0
    await other.set(key, token('d', Date.now()))
    await watched.delete(key)
    expect(calls).toEqual([])
  })

  it('a client answering from memory switches within memoryTtl even if an announcement is lost', async () => {
    const { createTokenClient } = await import('@tokenkeeper/auth-core')
    const { startTokenServer } = await import('./support/token-server.ts')
    const { loopbackSource } = await import('./support/source.ts')
    const server = await startTokenServer()
    const key = uniqueKey()
    const store = newStore({ memoryTtl: 200 })
    const client = createTokenClient(loopbackSource({ url: server.url, key }), { store })
    try {
      expect((await client.getToken()).value).toBe('token-1')
      await untilLocal(store, key)
      // Replaced behind the store's back: no announcement.
      const elsewhere = `${key}:elsewhere`
      await newStore().set(elsewhere, token('replaced', Date.now()))
      await admin.hset(
        keyNames(prefix, key).entry,
        await admin.hgetall(keyNames(prefix, elsewhere).entry),
      )
      await vi.waitFor(async () => expect((await client.getToken()).value).toBe('replaced'), {
        timeout: 5_000,
        interval: 10,
      })
      expect(server.count).toBe(1)
    } finally {
      await client.close()
      await server.close()
    }
  })
})

describe('when the subscription is down', () => {
  let own: OwnRedis
  beforeAll(async () => {
    own = await startOwnRedis()
  })
  afterAll(async () => {
    await own?.stop()
  })

  it('the local layer serves nothing until it is subscribed again', async () => {
    const store = newStore({ url: own.url })
    const key = uniqueKey()
    await store.set(key, token('t', Date.now()))
    await untilLocal(store, key)
    let notified = 0
    store.watch(key, () => notified++)
    const down = nextEvent((event) => event.type === 'subscription-down')
    const ownAdmin = await requireRedis(own.url)
    await ownAdmin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    await down
    expect(notified).toBeGreaterThan(0) // watchers learn that the copy is no longer vouched for
    const result = store.get(key)
    expect(result).toBeInstanceOf(Promise)
    expect((await result)?.value).toBe('t')
    // It comes back by itself and serves locally again.
    expect((await untilLocal(store, key))?.value).toBe('t')
    ownAdmin.disconnect()
  })
})

describe('encryption at rest', () => {
  const key32 = randomBytes(32)
  const otherKey = randomBytes(32)

  it('stores only ciphertext and reads it back', async () => {
    const store = newStore({ encryptionKey: key32 })
    const key = uniqueKey()
    const now = Date.now()
    const entry = token(TOKEN, now, { state: { refreshToken: REFRESH }, stateExpiresAt: null })
    await store.set(key, entry)
    const raw = await admin.hgetall(keyNames(prefix, key).entry)
    expect(raw.fmt).toBe('a256gcm')
    const everything = JSON.stringify(raw)
    expect(everything).not.toContain(TOKEN)
    expect(everything).not.toContain(REFRESH)
    expect(everything).not.toContain('refreshToken')
    const reader = newStore({ encryptionKey: key32.toString('base64') })
    expect(await reader.get(key)).toEqual(entry)
    const hexReader = newStore({ encryptionKey: key32.toString('hex') })
    expect(await hexReader.get(key)).toEqual(entry)
  })

  it('uses a fresh IV for every write', async () => {
    const store = newStore({ encryptionKey: key32 })
    const first = uniqueKey()
    const second = uniqueKey()
    const now = Date.now()
    await store.set(first, token(TOKEN, now))
    await store.set(second, token(TOKEN, now))
    const a = JSON.parse((await admin.hget(keyNames(prefix, first).entry, 'data')) ?? '{}')
    const b = JSON.parse((await admin.hget(keyNames(prefix, second).entry, 'data')) ?? '{}')
    expect(a.iv).not.toBe(b.iv)
    expect(a.kid).toBe(b.kid)
  })

  it('compare-and-set and invalidation work on encrypted entries', async () => {
    const store = newStore({ encryptionKey: key32 })
    const key = uniqueKey()
    const now = Date.now()
    await store.set(key, token('one', now))
    expect(await store.set(key, token('two', now), { expectedValue: 'nope' })).toBe(false)
    expect(await store.set(key, token('two', now), { expectedValue: 'one' })).toBe(true)
    expect(await store.invalidate(key, 'two')).toBe(true)
    expect(await store.get(key)).toBeUndefined()
  })

  it('a process with another key gets a typed error, never a silent miss', async () => {
    const writer = newStore({ encryptionKey: key32 })
    const key = uniqueKey()
    await writer.set(key, token(TOKEN, Date.now()))
    const wrong = newStore({ encryptionKey: otherKey })
    const error = await Promise.resolve(wrong.get(key)).catch((caught: unknown) => caught)
    expect(TokenKeeperError.is(error)).toBe(true)
    expect(error).toMatchObject({ name: 'ConfigurationError', code: 'CONFIGURATION_INVALID' })
    expect(String((error as Error).message)).toMatch(/encryptionKey/)
    const plain = newStore()
    await expect(plain.get(key)).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
    for (const caught of [error]) {
      expect(inspect(caught, { depth: 5 })).not.toContain(TOKEN)
      expect(inspect(caught, { depth: 5 })).not.toContain(otherKey.toString('hex'))
    }
  })

  it('reads entries written with a previous key listed in decryptionKeys', async () => {
    const old = newStore({ encryptionKey: otherKey })
    const key = uniqueKey()
    await old.set(key, token(TOKEN, Date.now()))
    const rotated = newStore({ encryptionKey: key32, decryptionKeys: [otherKey] })
    expect((await rotated.get(key))?.value).toBe(TOKEN)
  })

  it('refuses plaintext entries when a key is configured', async () => {
    const plain = newStore()
    const key = uniqueKey()
    await plain.set(key, token(TOKEN, Date.now()))
    const encrypted = newStore({ encryptionKey: key32 })
    await expect(encrypted.get(key)).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
  })

  it('detects tampering and entries moved to another key', async () => {
    const store = newStore({ encryptionKey: key32 })
    const key = uniqueKey()
    const moved = uniqueKey()
    await store.set(key, token(TOKEN, Date.now()))
    const name = keyNames(prefix, key).entry
    const raw = await admin.hgetall(name)
    await admin.hset(keyNames(prefix, moved).entry, raw)
    const reader = newStore({ encryptionKey: key32 })
    await expect(reader.get(moved)).rejects.toMatchObject({ name: 'StoreError', retryable: false })
    const envelope = JSON.parse(raw.data ?? '{}')
    const flipped = Buffer.from(envelope.ct, 'base64url')
    flipped[0] = (flipped[0] ?? 0) ^ 1
    await admin.hset(
      name,
      'data',
      JSON.stringify({ ...envelope, ct: flipped.toString('base64url') }),
    )
    await expect(reader.get(key)).rejects.toMatchObject({ name: 'StoreError', retryable: false })
  })

  it('rejects keys of the wrong size without showing them', () => {
    const secretish = 'not-a-key-but-sensitive-4711'
    let error: unknown
    try {
      createRedisTokenStore({ url: REDIS_URL, encryptionKey: secretish })
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({ name: 'ConfigurationError', setting: 'encryptionKey' })
    expect(inspect(error)).not.toContain(secretish)
    expect(() => createRedisTokenStore({ url: REDIS_URL, encryptionKey: randomBytes(16) })).toThrow(
      /32 bytes/,
    )
  })

  it('decryptionKeys that is not a list is a ConfigurationError naming it, without the value', () => {
    const previous = randomBytes(32).toString('base64')
    for (const decryptionKeys of [previous, 0, { key: previous }, true]) {
      let error: unknown
      try {
        createRedisTokenStore({
          url: REDIS_URL,
          encryptionKey: randomBytes(32),
          decryptionKeys: decryptionKeys as never,
          env: {},
        })
      } catch (caught) {
        error = caught
      }
      expect(error).toMatchObject({
        name: 'ConfigurationError',
        code: 'CONFIGURATION_INVALID',
        setting: 'decryptionKeys',
      })
      expect((error as Error).message).toMatch(/decryptionKeys must be a list of keys/)
      for (const output of [inspect(error), JSON.stringify(error), String(error)]) {
        expect(output).not.toContain(previous)
      }
    }
    // Without an encryptionKey too (the check comes before "needs an encryptionKey").
    expect(() =>
      createRedisTokenStore({ url: REDIS_URL, decryptionKeys: previous as never, env: {} }),
    ).toThrow(/decryptionKeys must be a list/)
  })

  it('reads the key from TOKENKEEPER_REDIS_ENCRYPTION_KEY', async () => {
    const environment = { TOKENKEEPER_REDIS_ENCRYPTION_KEY: key32.toString('base64') }
    const store = newStore({ env: environment })
    const key = uniqueKey()
    await store.set(key, token(TOKEN, Date.now()))
    expect(await admin.hget(keyNames(prefix, key).entry, 'fmt')).toBe('a256gcm')
    expect((await newStore({ encryptionKey: key32 }).get(key))?.value).toBe(TOKEN)
  })
})

/**
 * Resolves once Redis has received `count` lease requests (`SET <name> ... NX`), watched with
 * MONITOR: a test waits for the real event instead of sleeping.
 */
async function leaseRequests(name: string, count: number): Promise<{ seen: Promise<void> }> {
  const monitor = await admin.monitor()
  const seen = new Promise<void>((resolve) => {
    let seen = 0
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (
        args[0]?.toLowerCase() === 'set' &&
        args[1] === name &&
        args.includes('NX') &&
        ++seen === count
      ) {
        monitor.disconnect()
        resolve()
      }
    })
  })
  // Wrapped: an async function returning a promise would wait for it.
  return { seen }
}

describe('leases', () => {
  it('one holder at a time; waiters resolve null on release', async () => {
    const first = newStore()
    const second = newStore()
    const key = uniqueKey()
    const lease = await first.lease(key, { ttl: 10_000, waitTimeout: 10_000 })
    expect(lease).not.toBeNull()
    const name = keyNames(prefix, key).lease
    expect(await admin.pttl(name)).toBeGreaterThan(0)
    let settled = false
    // Release only once the second store has really asked for the lease, so the test does not
    // depend on how fast a loaded machine gets its request to Redis.
    const asked = await leaseRequests(name, 1)
    const waiting = second.lease(key, { ttl: 10_000, waitTimeout: 10_000 }).finally(() => {
      settled = true
    })
    await asked.seen
    expect(settled).toBe(false)
    await lease?.release()
    expect(await waiting).toBeNull()
    expect(await admin.exists(name)).toBe(0)
  })

  it('waiters in the same store resolve null on release too', async () => {
    const store = newStore()
    const key = uniqueKey()
    const lease = await store.lease(key, { ttl: 10_000, waitTimeout: 10_000 })
    const waiting = Promise.all([
      store.lease(key, { ttl: 10_000, waitTimeout: 10_000 }),
      store.lease(key, { ttl: 10_000, waitTimeout: 10_000 }),
    ])
    await lease?.release()
    expect(await waiting).toEqual([null, null])
  })

  it('is renewed while held', async () => {
    const store = newStore()
    const key = uniqueKey()
    const lease = await store.lease(key, { ttl: 150, waitTimeout: 1_000 })
    await new Promise((resolve) => setTimeout(resolve, 600))
    const name = keyNames(prefix, key).lease
    expect(await admin.pttl(name)).toBeGreaterThan(0)
    await lease?.release()
    expect(await admin.exists(name)).toBe(0)
  })

  it('a dead holder’s lease expires and waiters resolve null', async () => {
    const store = newStore({ leasePollInterval: 50 })
    const key = uniqueKey()
    // A holder that will never release or renew.
    await admin.set(keyNames(prefix, key).lease, 'dead-holder', 'PX', 300)
    expect(await store.lease(key, { ttl: 1_000, waitTimeout: 10_000 })).toBeNull()
    const next = await store.lease(key, { ttl: 1_000, waitTimeout: 10_000 })
    expect(next).not.toBeNull()
    await next?.release()
  })

  it('release is fenced: a holder whose lease expired does not delete the next one’s', async () => {
    const store = newStore()
    const key = uniqueKey()
    const name = keyNames(prefix, key).lease
    const lease = await store.lease(key, { ttl: 10_000, waitTimeout: 1_000 })
    await admin.set(name, 'next-holder', 'PX', 10_000) // as if it had expired and been taken
    await lease?.release()
    expect(await admin.get(name)).toBe('next-holder')
  })

  it('gives up after waitTimeout with a TokenTimeoutError', async () => {
    const store = newStore()
    const key = uniqueKey()
    await admin.set(keyNames(prefix, key).lease, 'slow-holder', 'PX', 10_000)
    const error = await store
      .lease(key, { ttl: 1_000, waitTimeout: 100 })
      .catch((caught: unknown) => caught)
    expect(error).toMatchObject({ name: 'TokenTimeoutError', code: 'TIMEOUT', retryable: true })
    expect((error as Error).message).toMatch(/another process/)
  })

  it('stops waiting when the signal aborts', async () => {
    const store = newStore()
    const key = uniqueKey()
    await admin.set(keyNames(prefix, key).lease, 'slow-holder', 'PX', 10_000)
    const controller = new AbortController()
    const waiting = store.lease(key, { ttl: 1_000, waitTimeout: 10_000, signal: controller.signal })
    controller.abort(new Error('caller gave up'))
    await expect(waiting).rejects.toThrow('caller gave up')
  })

  it('close() releases held leases and fails waiters', async () => {
    const holder = newStore()
    const waiter = newStore()
    const key = uniqueKey()
    await holder.lease(key, { ttl: 10_000, waitTimeout: 1_000 })
    await waiter.get(key) // connected, so its lease request is sent at once
    const asked = await leaseRequests(keyNames(prefix, key).lease, 2)
    const waiting = waiter.lease(key, { ttl: 10_000, waitTimeout: 10_000 })
    const waitingOnItself = holder
      .lease(key, { ttl: 10_000, waitTimeout: 10_000 })
      .catch((error: unknown) => error)
    await asked.seen // both are waiting now
    await holder.close()
    expect(await waitingOnItself).toMatchObject({ code: 'CLIENT_CLOSED' })
    expect(await waiting).toBeNull()
    expect(await admin.exists(keyNames(prefix, key).lease)).toBe(0)
  })
})

describe('when Redis is unreachable', () => {
  it('fails fast with a StoreError that shows no password', async () => {
    const port = await freePort()
    const password = 'SECRET-redis-password-9902'
    const logged: unknown[] = []
    const log = (message: string, fields?: Record<string, unknown>) => logged.push(message, fields)
    const events: unknown[] = []
    const onEvent = (event: unknown) => events.push(event)
    subscribe(STORE_REDIS_CHANNEL, onEvent)
    const store = createRedisTokenStore({
      url: `redis://:${password}@127.0.0.1:${port}`,
      keyPrefix: prefix,
      logger: { debug: log, info: log, warn: log, error: log },
    })
    stores.push(store)
    const errors = await Promise.all([
      Promise.resolve(store.get('k')).catch((error: unknown) => error),
      Promise.resolve(store.set('k', token('t', Date.now()))).catch((error: unknown) => error),
      store.lease('k', { ttl: 1_000, waitTimeout: 1_000 }).catch((error: unknown) => error),
    ])
    for (const error of errors) {
      expect(error).toMatchObject({
        name: 'StoreError',
        code: 'STORE_UNAVAILABLE',
        retryable: true,
      })
      expect((error as Error).message).toContain(`127.0.0.1:${port}`)
      expect(inspect(error, { depth: 10 })).not.toContain(password)
    }
    expect(inspect(store, { depth: 10 })).not.toContain(password)
    expect(JSON.stringify(store)).not.toContain(password)
    unsubscribe(STORE_REDIS_CHANNEL, onEvent)
    expect(logged.length).toBeGreaterThan(0) // the outage was reported...
    expect(inspect([logged, events], { depth: 10 })).not.toContain(password) // ...without the password
  })

  it('bounds a Redis that accepts connections but never answers', async () => {
    const { createServer } = await import('node:net')
    const sockets: import('node:net').Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const address = silent.address()
    const port = typeof address === 'object' && address ? address.port : 0
    const store = createRedisTokenStore({
      url: `redis://127.0.0.1:${port}`,
      keyPrefix: prefix,
      connectTimeout: 200,
      commandTimeout: 200,
    })
    stores.push(store)
    await expect(store.get('k')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })

  it('with fallback: memory, serves from process memory and says so', async () => {
    const port = await freePort()
    const warnings: string[] = []
    const store = createRedisTokenStore({
      url: `redis://127.0.0.1:${port}`,
      keyPrefix: prefix,
      fallback: 'memory',
      logger: { warn: (message) => warnings.push(message) },
    })
    stores.push(store)
    expect(await store.get('k')).toBeUndefined()
    expect(store.degraded).toBe(true)
    expect(await store.set('k', token('t', Date.now()), { expectedValue: null })).toBe(true)
    expect((await store.get('k'))?.value).toBe('t')
    const lease = await store.lease('k', { ttl: 1_000, waitTimeout: 1_000 })
    expect(lease).not.toBeNull()
    await lease?.release()
    expect(warnings.some((message) => message.includes('fallback: memory'))).toBe(true)
    // Never for a credential that needs one issuer across processes (Clear, Apiax).
    await expect(
      store.lease('k', { ttl: 1_000, waitTimeout: 1_000, exclusive: true }),
    ).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    })
  })
})

describe('configuration', () => {
  it('needs a url or a client', () => {
    expect(() => createRedisTokenStore({ env: {} })).toThrow(/TOKENKEEPER_REDIS_URL/)
  })

  it('refuses other schemes without echoing the url', () => {
    let error: unknown
    try {
      createRedisTokenStore({ url: 'http://user:SECRET-in-url@example.com' })
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({ name: 'ConfigurationError', setting: 'url' })
    expect(inspect(error)).not.toContain('SECRET-in-url')
  })

  it('refuses bad numbers', () => {
    expect(() => createRedisTokenStore({ url: REDIS_URL, memoryTtl: -1 })).toThrow(/memoryTtl/)
    expect(() =>
      createRedisTokenStore({ url: REDIS_URL, fallback: 'disk' as unknown as 'memory' }),
    ).toThrow(/fallback/)
  })

  it('uses a given ioredis client and leaves it open', async () => {
    const { Redis } = await import('ioredis')
    const client = new Redis(REDIS_URL)
    const store = createRedisTokenStore({ client, keyPrefix: prefix })
    const key = uniqueKey()
    await store.set(key, token('t', Date.now()))
    expect((await store.get(key))?.value).toBe('t')
    await store.close()
    expect(await client.ping()).toBe('PONG')
    client.disconnect()
  })
})
