import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { ManualClock, type StoredToken } from '@tokenkeeper/auth-core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CACHE_KEY_ENV, keyFilePath } from '../src/cache/cache-key.ts'
import { createFileTokenStore } from '../src/cache/file-token-store.ts'

const TOKEN_VALUE = 'SECRET-access-token-value-0123456789'
const REFRESH_TOKEN = 'SECRET-refresh-token-value-9876543210'
const CACHE_KEY = 'vendor|https://api.example.test|client-id-visible'

let directory: string
let path: string
const key = randomBytes(32)

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'tokenkeeper-store-test-'))
  path = join(directory, 'tokens.cache')
})
afterEach(() => rmSync(directory, { recursive: true, force: true }))

function entry(overrides: Partial<StoredToken> = {}): StoredToken {
  const now = Date.now()
  return {
    value: TOKEN_VALUE,
    type: 'Bearer',
    expiresAt: now + 3_600_000,
    issuedAt: now,
    state: { refreshToken: REFRESH_TOKEN },
    stateExpiresAt: now + 86_400_000,
    ...overrides,
  }
}

describe('createFileTokenStore', () => {
  it('shares entries between store instances on the same file (other processes)', async () => {
    const first = createFileTokenStore({ path, key })
    const second = createFileTokenStore({ path, key })
    expect(await first.set(CACHE_KEY, entry())).toBe(true)
    expect(second.get(CACHE_KEY)).toEqual(
      entry({
        issuedAt: expect.any(Number),
        expiresAt: expect.any(Number),
        stateExpiresAt: expect.any(Number),
      }),
    )
    expect(second.get(CACHE_KEY)?.value).toBe(TOKEN_VALUE)
    expect(second.get(CACHE_KEY)?.state).toEqual({ refreshToken: REFRESH_TOKEN })
    expect(second.shared).toBe(true)
  })

  it('keeps nothing readable in the file: no token, no refresh token, no cache key', async () => {
    const store = createFileTokenStore({ path, key })
    await store.set(CACHE_KEY, entry())
    const raw = readFileSync(path, 'utf8')
    expect(raw).not.toContain(TOKEN_VALUE)
    expect(raw).not.toContain(REFRESH_TOKEN)
    expect(raw).not.toContain('client-id-visible')
    expect(raw).not.toContain(Buffer.from(TOKEN_VALUE).toString('base64').slice(0, 16))
    expect(JSON.parse(raw)).toMatchObject({ format: 'tokenkeeper-token-cache', version: 1 })
  })

  it('writes the file with permissions 0600 and leaves no temporary files', async () => {
    const store = createFileTokenStore({ path, key })
    await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        store.set(`key-${index}`, entry({ value: `token-${index}` })),
      ),
    )
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readdirSync(directory).sort()).toEqual(['tokens.cache'])
  })

  it('loses no entry when several writers (instances) write at once', async () => {
    const stores = [1, 2, 3].map(() => createFileTokenStore({ path, key }))
    await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        stores[index % 3]!.set(`key-${index}`, entry({ value: `token-${index}` })),
      ),
    )
    const reader = createFileTokenStore({ path, key })
    for (let index = 0; index < 30; index++) {
      expect(reader.get(`key-${index}`)?.value).toBe(`token-${index}`)
    }
  })

  it('compare-and-set: refuses to overwrite a newer entry', async () => {
    const store = createFileTokenStore({ path, key })
    expect(await store.set(CACHE_KEY, entry({ value: 'first' }), { expectedValue: null })).toBe(
      true,
    )
    expect(await store.set(CACHE_KEY, entry({ value: 'second' }), { expectedValue: null })).toBe(
      false,
    )
    expect(await store.set(CACHE_KEY, entry({ value: 'third' }), { expectedValue: 'other' })).toBe(
      false,
    )
    expect(await store.set(CACHE_KEY, entry({ value: 'fourth' }), { expectedValue: 'first' })).toBe(
      true,
    )
    expect(store.get(CACHE_KEY)?.value).toBe('fourth')
  })

  it('compare-and-invalidate marks the entry rejected once and keeps its state', async () => {
    const store = createFileTokenStore({ path, key })
    await store.set(CACHE_KEY, entry())
    expect(await store.invalidate(CACHE_KEY, 'not-the-current-one')).toBe(false)
    expect(await store.invalidate(CACHE_KEY, TOKEN_VALUE)).toBe(true)
    expect(await store.invalidate(CACHE_KEY, TOKEN_VALUE)).toBe(false)
    const other = createFileTokenStore({ path, key })
    expect(other.get(CACHE_KEY)).toMatchObject({
      rejected: true,
      state: { refreshToken: REFRESH_TOKEN },
    })
    await store.delete(CACHE_KEY)
    expect(other.get(CACHE_KEY)).toBeUndefined()
  })

  it('drops entries whose token and state are both spent', async () => {
    const clock = new ManualClock(Date.now())
    const store = createFileTokenStore({ path, key, clock })
    await store.set(
      CACHE_KEY,
      entry({ expiresAt: clock.now() + 1_000, state: undefined, stateExpiresAt: undefined }),
    )
    expect(store.get(CACHE_KEY)).toBeDefined()
    await clock.advance(2_000)
    expect(store.get(CACHE_KEY)).toBeUndefined()
  })

  it('treats a file encrypted with another key as empty, warns once, and replaces it', async () => {
    await createFileTokenStore({ path, key }).set(CACHE_KEY, entry())
    const warnings: string[] = []
    const other = createFileTokenStore({
      path,
      key: randomBytes(32),
      onWarning: (message) => warnings.push(message),
    })
    expect(other.get(CACHE_KEY)).toBeUndefined()
    expect(other.get(CACHE_KEY)).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('cannot be decrypted')
    expect(await other.set(CACHE_KEY, entry({ value: 'new' }), { expectedValue: null })).toBe(true)
    expect(other.get(CACHE_KEY)?.value).toBe('new')
  })

  it('treats a damaged file as empty', async () => {
    writeFileSync(
      path,
      '{"format":"tokenkeeper-token-cache","version":1,"iv":"x","tag":"y","data":"z"}',
    )
    const warnings: string[] = []
    const store = createFileTokenStore({
      path,
      key,
      onWarning: (message) => warnings.push(message),
    })
    expect(store.get(CACHE_KEY)).toBeUndefined()
    expect(warnings).toHaveLength(1)
  })

  describe('the key', () => {
    it('creates <cache>.key with permissions 0600 and reuses it', async () => {
      const first = createFileTokenStore({ path, env: {} })
      await first.set(CACHE_KEY, entry())
      const keyFile = keyFilePath(path)
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      expect(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32)
      expect(createFileTokenStore({ path, env: {} }).get(CACHE_KEY)?.value).toBe(TOKEN_VALUE)
    })

    it('refuses a key file that other users can read', () => {
      createFileTokenStore({ path, env: {} })
      chmodSync(keyFilePath(path), 0o644)
      expect(() => createFileTokenStore({ path, env: {} })).toThrow(/chmod 600/)
    })

    it(`takes ${CACHE_KEY_ENV} (base64 or hex) instead of a key file`, async () => {
      const hex = randomBytes(32).toString('hex')
      await createFileTokenStore({ path, env: { [CACHE_KEY_ENV]: hex } }).set(CACHE_KEY, entry())
      const base64 = Buffer.from(hex, 'hex').toString('base64')
      expect(
        createFileTokenStore({ path, env: { [CACHE_KEY_ENV]: base64 } }).get(CACHE_KEY)?.value,
      ).toBe(TOKEN_VALUE)
      expect(readdirSync(directory)).not.toContain('tokens.cache.key')
    })

    it(`rejects a malformed ${CACHE_KEY_ENV} without quoting it`, () => {
      const value = 'SECRET-not-a-32-byte-key'
      let thrown: unknown
      try {
        createFileTokenStore({ path, env: { [CACHE_KEY_ENV]: value } })
      } catch (error) {
        thrown = error
      }
      expect(thrown).toMatchObject({ code: 'CONFIGURATION_INVALID', setting: 'cacheKey' })
      expect(String((thrown as Error).message)).toContain(CACHE_KEY_ENV)
      expect(inspect(thrown)).not.toContain(value)
    })
  })

  describe('lease', () => {
    const options = { ttl: 5_000, waitTimeout: 5_000 }

    it('lets one holder work while another waits, then tells the waiter to re-read', async () => {
      const first = createFileTokenStore({ path, key })
      const second = createFileTokenStore({ path, key })
      const held = await first.lease(CACHE_KEY, options)
      expect(held).not.toBeNull()
      let settled = false
      const waiting = second.lease(CACHE_KEY, options).then((lease) => {
        settled = true
        return lease
      })
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(settled).toBe(false)
      await first.set(CACHE_KEY, entry())
      await held?.release()
      expect(await waiting).toBeNull()
      expect(second.get(CACHE_KEY)?.value).toBe(TOKEN_VALUE)
      // Free again: the next caller gets the lease at once.
      const again = await second.lease(CACHE_KEY, options)
      expect(again).not.toBeNull()
      await again?.release()
    })

    it('takes over the lease of a process that died', async () => {
      const store = createFileTokenStore({ path, key })
      const held = await store.lease(CACHE_KEY, options)
      await held?.release()
      const leaseFile = readdirSync(directory).find((name) => name.endsWith('.lease'))
      expect(leaseFile).toBeUndefined()
      // A lock file left by a process that no longer exists (pid 2^22 + 1 is above pid_max).
      const digest = (await import('node:crypto'))
        .createHash('sha256')
        .update(CACHE_KEY)
        .digest('hex')
        .slice(0, 16)
      const { hostname } = await import('node:os')
      writeFileSync(
        `${path}.${digest}.lease`,
        JSON.stringify({ pid: 4_194_305, host: hostname(), nonce: 'dead' }),
      )
      const taken = await store.lease(CACHE_KEY, options)
      expect(taken).not.toBeNull()
      await taken?.release()
      expect(
        readdirSync(directory).filter((name) => name.includes('.lease') || name.includes('stale')),
      ).toEqual([])
    })

    it('takes over a lease nobody refreshed for its ttl (a holder on another machine hung)', async () => {
      const store = createFileTokenStore({ path, key })
      const digest = (await import('node:crypto'))
        .createHash('sha256')
        .update(CACHE_KEY)
        .digest('hex')
        .slice(0, 16)
      const lock = `${path}.${digest}.lease`
      writeFileSync(lock, JSON.stringify({ pid: 1, host: 'another-machine', nonce: 'hung' }))
      const past = new Date(Date.now() - 60_000)
      const { utimesSync } = await import('node:fs')
      utimesSync(lock, past, past)
      const taken = await store.lease(CACHE_KEY, options)
      expect(taken).not.toBeNull()
      await taken?.release()
    })

    it('fails with TIMEOUT when the holder keeps the lease too long', async () => {
      const store = createFileTokenStore({ path, key })
      const held = await store.lease(CACHE_KEY, options)
      await expect(store.lease(CACHE_KEY, { ttl: 5_000, waitTimeout: 100 })).rejects.toMatchObject({
        code: 'TIMEOUT',
      })
      await held?.release()
    })

    it('stops waiting when the signal aborts', async () => {
      const store = createFileTokenStore({ path, key })
      const held = await store.lease(CACHE_KEY, options)
      const controller = new AbortController()
      const waiting = store.lease(CACHE_KEY, { ...options, signal: controller.signal })
      controller.abort(new Error('closed'))
      await expect(waiting).rejects.toThrow('closed')
      await held?.release()
    })
  })
})
