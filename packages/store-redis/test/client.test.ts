import { randomBytes } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { inspect } from 'node:util'
import { createTokenClient, type TokenClient } from '@tokenkeeper/auth-core'
import { captureTokenEvents } from '@tokenkeeper/auth-core/testing'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createRedisTokenStore,
  type RedisStoreEvent,
  type RedisTokenStore,
  type RedisTokenStoreOptions,
  STORE_REDIS_CHANNEL,
} from '../src/index.ts'
import { keyNames } from '../src/keys.ts'
import { deletePrefix, freePort, REDIS_URL, requireRedis, uniquePrefix } from './support/redis.ts'
import { CLIENT_SECRET, loopbackSource } from './support/source.ts'
import { startTokenServer, type TokenServer } from './support/token-server.ts'

let admin: Redis
const prefix = uniquePrefix('client')
const closers: Array<{ close(): Promise<void> }> = []
let server: TokenServer | undefined

beforeAll(async () => {
  admin = await requireRedis()
})
afterEach(async () => {
  for (const closer of closers.splice(0).reverse()) await closer.close()
  await server?.close()
  server = undefined
})
afterAll(async () => {
  await deletePrefix(admin, prefix)
  admin.disconnect()
})

function newStore(options: RedisTokenStoreOptions = {}): RedisTokenStore {
  const store = createRedisTokenStore({ url: REDIS_URL, keyPrefix: prefix, ...options })
  closers.push(store)
  return store
}

function newClient(store: RedisTokenStore, url: string, key: string): TokenClient {
  const client = createTokenClient(loopbackSource({ url, key }), { store })
  closers.push(client)
  return client
}

function uniqueKey(): string {
  return `loopback:${randomBytes(4).toString('hex')}`
}

describe('TokenClient with the Redis store', () => {
  it('two "processes" with 100 concurrent callers each cause one token request', async () => {
    server = await startTokenServer({ delay: 50 })
    const key = uniqueKey()
    const first = newClient(newStore(), server.url, key)
    const second = newClient(newStore(), server.url, key)
    const tokens = await Promise.all(
      Array.from({ length: 200 }, (_, index) => (index % 2 ? first : second).getToken()),
    )
    expect(server.count).toBe(1)
    expect(new Set(tokens.map((token) => token.value))).toEqual(new Set(['token-1']))
  })

  it('serves cached tokens without asking Redis', async () => {
    server = await startTokenServer()
    const key = uniqueKey()
    const store = newStore()
    const client = newClient(store, server.url, key)
    await client.getToken()
    // Wait until the local layer is trusted, then count Redis commands for many calls.
    for (let attempt = 0; attempt < 200 && store.get(key) instanceof Promise; attempt++) {
      await store.get(key)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const before = Number((await admin.info('stats')).match(/total_commands_processed:(\d+)/)?.[1])
    for (let index = 0; index < 1_000; index++) await client.getToken()
    const after = Number((await admin.info('stats')).match(/total_commands_processed:(\d+)/)?.[1])
    // Only the INFO call itself (and other test files' traffic, if any) in between.
    expect(after - before).toBeLessThan(50)
  })

  it('a token invalidated in one process is not served by another', async () => {
    server = await startTokenServer()
    const key = uniqueKey()
    const storeA = newStore()
    const storeB = newStore()
    const clientA = newClient(storeA, server.url, key)
    const clientB = newClient(storeB, server.url, key)
    const first = await clientA.getToken()
    expect((await clientB.getToken()).value).toBe(first.value)
    // B serves from its local layer once subscribed; that is the copy the announcement must reach.
    for (let attempt = 0; attempt < 500 && storeB.get(key) instanceof Promise; attempt++) {
      await storeB.get(key)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(storeB.get(key)).not.toBeInstanceOf(Promise)
    const { id } = keyNames(prefix, key)
    const received = new Promise<void>((resolve) => {
      const handler = (message: unknown) => {
        const event = message as RedisStoreEvent
        if (event.type === 'remote-change' && event.keyId === id) {
          unsubscribe(STORE_REDIS_CHANNEL, handler)
          resolve()
        }
      }
      subscribe(STORE_REDIS_CHANNEL, handler)
    })

    expect(clientA.invalidate(first)).toBe(true)
    await received

    const afterB = await Promise.all(Array.from({ length: 20 }, () => clientB.getToken()))
    const afterA = await clientA.getToken()
    expect(new Set(afterB.map((token) => token.value))).toEqual(new Set(['token-2']))
    expect(afterA.value).toBe('token-2')
    expect(server.count).toBe(2)
  })

  it('Redis down: getToken fails with STORE_UNAVAILABLE and requests no token', async () => {
    server = await startTokenServer()
    const port = await freePort()
    const store = newStore({ url: `redis://127.0.0.1:${port}` })
    const client = newClient(store, server.url, uniqueKey())
    const capture = captureTokenEvents()
    try {
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => client.getToken()))
      for (const result of results) {
        expect(result.status).toBe('rejected')
        expect((result as PromiseRejectedResult).reason).toMatchObject({
          code: 'STORE_UNAVAILABLE',
        })
      }
    } finally {
      capture.stop()
    }
    expect(server.count).toBe(0)
    expect(inspect(capture.events, { depth: 10 })).not.toContain(CLIENT_SECRET)
  })

  it('Redis down with fallback: memory: tokens are issued per process, as opted in', async () => {
    server = await startTokenServer()
    const port = await freePort()
    const key = uniqueKey()
    const first = newClient(
      newStore({ url: `redis://127.0.0.1:${port}`, fallback: 'memory' }),
      server.url,
      key,
    )
    const second = newClient(
      newStore({ url: `redis://127.0.0.1:${port}`, fallback: 'memory' }),
      server.url,
      key,
    )
    const tokens = await Promise.all([first.getToken(), first.getToken(), second.getToken()])
    expect(tokens.every((token) => token.value.startsWith('token-'))).toBe(true)
    // One per process: this is exactly why it must stay off for revoke-on-reissue sources.
    expect(server.count).toBe(2)
  })

  it('secrets appear nowhere in what the store wrote besides the entry itself', async () => {
    server = await startTokenServer()
    const key = uniqueKey()
    const client = newClient(newStore({ encryptionKey: randomBytes(32) }), server.url, key)
    const token = await client.getToken()
    const names = keyNames(prefix, key)
    const everything = JSON.stringify([
      await admin.keys(`${prefix}*`),
      await admin.hgetall(names.entry),
    ])
    expect(everything).not.toContain(token.value)
    expect(everything).not.toContain(CLIENT_SECRET)
    expect(everything).not.toContain(key)
  })
})
