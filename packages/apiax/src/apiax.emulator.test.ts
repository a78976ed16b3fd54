import { generateKeyPairSync } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { setImmediate as nextTurn } from 'node:timers/promises'
import {
  ManualClock,
  TOKEN_CHANNELS,
  type TokenClient,
  type TokenEvent,
} from '@tokenkeeper/auth-core'
import { type Emulator, startEmulator } from '@tokenkeeper/emulator'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { SharedTestStore } from '../test/mock-keycloak.ts'
import { isolate } from '../test/setup.ts'
import { type ApiaxSettings, apiaxRules, createApiax } from './index.ts'

isolate()

// End to end over loopback HTTP against the emulated Apiax Keycloak realm and rule engine. The
// emulator and the clients share one ManualClock, so days pass without sleeping.
const clock = new ManualClock()
const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const TOKEN_LIFETIME = 30 * MINUTE
let emulator: Emulator
const clients: TokenClient[] = []

beforeAll(async () => {
  emulator = await startEmulator({ now: () => clock.now() })
})
afterAll(async () => {
  await emulator?.stop()
})
beforeEach(() => {
  emulator.resetCounters()
})
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  emulator.faults.clear()
  emulator.apiax.configure({ revokeRefreshToken: false, refreshTokenMaxReuse: 0 })
  emulator.apiax.killSessions()
})

/** Lets loopback I/O started by a timer finish before time moves on. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await nextTurn()
}

/** Resolves with the next event on a token channel (background work over real HTTP). */
function nextEvent(name: keyof typeof TOKEN_CHANNELS): Promise<TokenEvent> {
  return new Promise((resolve) => {
    const handler = (message: unknown) => {
      unsubscribe(TOKEN_CHANNELS[name], handler)
      resolve(message as TokenEvent)
    }
    subscribe(TOKEN_CHANNELS[name], handler)
  })
}

function apiax(settings: ApiaxSettings = {}): TokenClient {
  const { username, password, apiKey } = emulator.demo.apiax
  const client = createApiax({
    username,
    password,
    apiKey,
    tokenUrl: emulator.urls.apiax.tokenUrl,
    apiUrl: emulator.urls.apiax.apiUrl,
    clock,
    random: () => 0,
    ...settings,
  })
  clients.push(client)
  return client
}

const request = {
  products: [{ productId: 'P-100', familyId: 'F-7' }],
  regimes: ['CH'],
  versionFilter: 'latest',
  attributes: [{ name: 'clientDomicile', value: 'DE' }],
}

const grants = () => emulator.counters().apiax.byGrant

describe('against the emulator', () => {
  it('demo credentials: password login, rule evaluation, background renewal with the refresh token', async () => {
    const client = apiax()
    const rules = apiaxRules(client)
    const result = await rules.evaluate<{ results: Array<{ outcome: string }> }>(request)
    expect(result.results[0]?.outcome).toBe('ALLOWED')
    await expect(rules.inspect(request)).resolves.toMatchObject({ versionFilter: 'latest' })
    const first = await client.getToken()
    expect(first.expiresAt).toBe(first.issuedAt + TOKEN_LIFETIME)

    // Into the advisory window (5 minutes before expiry): renewed in the background.
    const renewed = nextEvent('renewed')
    await clock.advance(TOKEN_LIFETIME - 4 * MINUTE, { settle })
    expect(await renewed).toMatchObject({ vendor: 'apiax', reason: 'renewal' })
    const second = await client.getToken()
    expect(second.value).not.toBe(first.value)
    await rules.evaluate(request)
    expect(grants()).toMatchObject({ password: 1, refresh_token: 1 })
    expect(emulator.counters().apiax.apiAccepted).toBe(3)
  })

  it('single-use refresh tokens: 100 concurrent calls, two clients sharing a store, no session killed', async () => {
    emulator.apiax.configure({ revokeRefreshToken: true })
    const store = new SharedTestStore()
    const first = apiax({ store })
    const second = apiax({ store })
    const calls = () =>
      Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          apiaxRules(index % 2 === 0 ? first : second).evaluate(request),
        ),
      )
    await calls()
    for (let round = 0; round < 3; round++) {
      clock.set(clock.now() + TOKEN_LIFETIME + 1)
      await calls()
    }
    const counters = emulator.counters().apiax
    expect(counters.byGrant).toMatchObject({ password: 1, refresh_token: 3 })
    expect(counters.sessionsKilled).toBe(0)
    expect(counters.refreshReuseRejected).toBe(0)
    expect(counters.apiAccepted).toBe(400)
    expect(counters.apiRejected).toBe(0)
  })

  it('a revoked token is renewed with the refresh token and the call retried once', async () => {
    const client = apiax()
    const rules = apiaxRules(client)
    await rules.evaluate(request)
    emulator.revokeTokens('apiax')
    await expect(rules.evaluate(request)).resolves.toMatchObject({ versionFilter: 'latest' })
    const counters = emulator.counters().apiax
    expect(counters.byGrant).toMatchObject({ password: 1, refresh_token: 1 })
    expect(counters.apiRejectedByReason.revoked).toBe(1)
  })

  it('an ended session: one refused refresh, one password login, in the same call', async () => {
    const client = apiax()
    await client.getToken()
    expect(emulator.apiax.killSessions()).toBe(1)
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    await expect(apiaxRules(client).evaluate(request)).resolves.toBeDefined()
    const counters = emulator.counters().apiax
    expect(counters.byGrant).toMatchObject({ password: 2, refresh_token: 1 })
    expect(counters.tokenErrors).toBe(1)
  })

  it('logs in again after 14 days without trying the dead refresh token', async () => {
    const client = apiax()
    const loginAt = clock.now()
    await client.getToken()
    clock.set(loginAt + 13 * DAY)
    await client.getToken()
    clock.set(loginAt + 14 * DAY + MINUTE)
    await apiaxRules(client).evaluate(request)
    const counters = emulator.counters().apiax
    expect(counters.byGrant).toMatchObject({ password: 2, refresh_token: 1 })
    expect(counters.tokenErrors).toBe(0)
  })

  it('a wrong password reaches Keycloak once, however many calls and however long', async () => {
    const client = apiax({ password: 'not-the-demo-password' })
    const rules = apiaxRules(client)
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => rules.evaluate(request)),
    )
    expect(results.every((result) => result.status === 'rejected')).toBe(true)
    expect(results[0]).toMatchObject({
      reason: { code: 'TOKEN_ENDPOINT_REJECTED', status: 401, oauthError: 'invalid_grant' },
    })
    for (const minutes of [1, 5, 60, 600]) {
      clock.set(clock.now() + minutes * MINUTE)
      await expect(client.getToken()).rejects.toMatchObject({ status: 401 })
    }
    expect(grants()).toEqual({ password: 1 })
    expect(emulator.counters().apiax.apiAccepted).toBe(0)
  })

  it('2FA: a fresh RS256 client assertion on the login and on every refresh', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    emulator.apiax.registerAssertionClient({ clientId: 'acme-2fa', publicKey })
    const client = apiax({ clientAssertion: { privateKey, clientId: 'acme-2fa' } })
    await apiaxRules(client).evaluate(request)
    for (let round = 0; round < 2; round++) {
      clock.set(clock.now() + TOKEN_LIFETIME + 1)
      await apiaxRules(client).evaluate(request)
    }
    const counters = emulator.counters().apiax
    expect(counters.byGrant).toMatchObject({ password: 1, refresh_token: 2 })
    expect(counters.assertionReplays).toBe(0)
    expect(counters.tokenErrors).toBe(0)

    // Without the assertion the 2FA client is refused, with a message that points at it.
    const plain = apiax({ clientId: 'acme-2fa' })
    const error = await plain.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', oauthError: 'invalid_client' })
    expect((error as Error).message).toContain('clientAssertion')
  })

  it('a 503 from Keycloak during renewal keeps the refresh token for the next attempt', async () => {
    const client = apiax({ backoff: { initial: 1000, max: 1000 } })
    await client.getToken()
    emulator.faults.set('apiax.token', { kind: 'status', status: 503, times: 1 })
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    await expect(client.getToken()).rejects.toMatchObject({
      code: 'TOKEN_ENDPOINT_UNAVAILABLE',
      retryable: true,
    })
    clock.set(clock.now() + 1001)
    await expect(apiaxRules(client).evaluate(request)).resolves.toBeDefined()
    expect(grants()).toMatchObject({ password: 1, refresh_token: 2 })
  })

  it('without a valid API key the rule engine answers 403, which is not a token problem', async () => {
    const client = apiax({ apiKey: 'not-registered' })
    const error = await apiaxRules(client)
      .evaluate(request)
      .catch((caught: unknown) => caught)
    expect(error).toMatchObject({ name: 'ApiaxApiError', status: 403, code: 'API_REQUEST_FAILED' })
    expect((error as Error).message).toContain('APIAX_API_KEY')
    expect(grants()).toEqual({ password: 1 })
  })
})
